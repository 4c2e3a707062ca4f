#!/usr/bin/env bash
# The test command: installs what is missing, builds, starts a loopback SeaweedFS and (when the
# shared backend script is present) OpenStack Swift with s3api, runs every test, and stops the
# servers and unmounts test mounts on exit, even on failure.
#   scripts/test.sh [extra `swift test` arguments, e.g. --filter S3Tests]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
bash scripts/setup.sh

run=$(mktemp -d "${TMPDIR:-/tmp}/bucketfs-test.XXXXXX")
# Other users must reach the mounts below it (the permission tests run commands as nobody).
chmod 711 "$run"
swift_script=${SWIFT_S3API_SCRIPT:-$here/../shared/backends/swift-s3api.sh}
cleanup() {
  set +e
  # Unmount whatever a failed test left below the run directory.
  awk -v r="$run" '$2 ~ "^"r {print $2}' /proc/mounts | while read -r m; do fusermount3 -uz "$m" 2>/dev/null || umount -l "$m"; done
  bash scripts/seaweedfs.sh stop "$run/seaweedfs"
  # Also after an interrupted start: stop whatever the backend script recorded.
  [ -d "$run/swift/run" ] && bash "$swift_script" stop "$run/swift" >/dev/null
  # Last resort: anything a failed test started below the run directory (a cluster, a proxy).
  pkill -KILL -f -- "$run/" 2>/dev/null
  rm -rf "$run"
}
trap cleanup EXIT INT TERM

bash scripts/seaweedfs.sh start "$run/seaweedfs"
export BUCKETFS_TEST_SEAWEEDFS=http://127.0.0.1:$(cat "$run/seaweedfs/s3port")
export BUCKETFS_TEST_SEAWEEDFS_ACCESS=${SEAWEEDFS_ACCESS_KEY:-bucketfs-test}
export BUCKETFS_TEST_SEAWEEDFS_SECRET=${SEAWEEDFS_SECRET_KEY:-bucketfs-test-secret}

if [ -f "$swift_script" ] && [ "${BUCKETFS_TEST_NO_SWIFT:-}" != 1 ]; then
  # Its own ports, so a Swift already running on the usual ones does not matter.
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  base=$(python3 -c 'import random; print(random.randrange(30000, 39000, 10))')
  mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$run/swift"
  if SWIFT_S3_PORT=$port SWIFT_S3_BACKEND_PORT_BASE=$base SWIFT_S3_MEMCACHE_PORT=$mport SWIFT_S3_LOG_LEVEL=WARNING SWIFT_S3_ACL=true \
     bash "$swift_script" start "$run/swift" >"$run/swift-start.log" 2>&1; then
    export BUCKETFS_TEST_SWIFT=http://127.0.0.1:$port
    echo "swift-s3api: S3 on $BUCKETFS_TEST_SWIFT"
  else
    echo "swift-s3api: failed to start; log:" >&2; cat "$run/swift-start.log" >&2; exit 1
  fi
fi
export BUCKETFS_REQUIRE_SERVERS=1
export BUCKETFS_TEST_RUN_DIR=$run

swift build --build-tests
# Mounts that name no staging_dir stage under $XDG_CACHE_HOME: inside the run directory, so the
# tests leave nothing in the user's ~/.cache.
XDG_CACHE_HOME=$run/cache swift test --skip-build "$@"
# The compatibility matrix (every engine through a mount), unless only some tests were asked for.
if [ $# -eq 0 ] && [ "${BUCKETFS_TEST_NO_COMPAT:-}" != 1 ]; then
  bash scripts/compat.sh
fi
