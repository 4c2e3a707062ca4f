#!/usr/bin/env bash
# Builds bucketfs in release mode and installs it as /usr/local/bin/bucketfs (where mount.fuse3,
# and so `mount -t fuse.bucketfs` and /etc/fstab, find it).  PREFIX=/opt/x changes the place.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
bash scripts/setup.sh
swift build -c release --product bucketfs 2>&1 | tail -1
install -m 0755 "$(swift build -c release --show-bin-path)/bucketfs" "${PREFIX:-/usr/local}/bin/bucketfs"
echo "installed ${PREFIX:-/usr/local}/bin/bucketfs"
