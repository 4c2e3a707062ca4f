#!/usr/bin/env bash
# The demo: installs what is missing, builds bucketfs, starts a loopback SeaweedFS in ./.demo,
# creates bucket "demo" with a few files, and mounts it on ./.demo/mnt.
#   scripts/demo.sh          set up and mount
#   scripts/demo.sh stop     unmount and stop the server
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
demo=$here/.demo
if [ "${1:-}" = stop ]; then
  fusermount3 -u "$demo/mnt" 2>/dev/null || true
  bash scripts/seaweedfs.sh stop "$demo/seaweedfs"
  echo "demo: stopped"; exit 0
fi
bash scripts/setup.sh
for p in bucketfs s3bench; do swift build --product $p 2>&1 | tail -1; done
bin=$(swift build --show-bin-path)
mkdir -p "$demo/mnt"
bash scripts/seaweedfs.sh start "$demo/seaweedfs"
eval "$(bash scripts/seaweedfs.sh env "$demo/seaweedfs")"
"$bin/bucketfs" bucket create demo >/dev/null 2>&1 || true
"$bin/s3bench" put demo README.md README.md
"$bin/s3bench" put demo docs/Package.swift Package.swift
for f in Sources/S3/*.swift; do "$bin/s3bench" put demo "src/S3/$(basename "$f")" "$f"; done
mountpoint -q "$demo/mnt" && fusermount3 -u "$demo/mnt"
"$bin/bucketfs" demo "$demo/mnt"
echo "demo: bucket \"demo\" on $AWS_ENDPOINT_URL is mounted on $demo/mnt:"
ls -l "$demo/mnt" "$demo/mnt/src/S3" | head -20
echo "demo: try   find $demo/mnt | head; cat $demo/mnt/README.md | head; echo hi > $demo/mnt/new.txt"
echo "demo: stop  scripts/demo.sh stop"
