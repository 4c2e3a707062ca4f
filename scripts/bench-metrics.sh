#!/usr/bin/env bash
# What -o metrics costs: the sequential read, the write until stored and `ls -l` of
# scripts/bench.sh, on a loopback SeaweedFS, with metrics off and on in turns (a fresh mount
# each time, scraped once a second while metrics are on), BENCH_ROUNDS rounds (default 5).
#   scripts/bench-metrics.sh    (BENCH_SIZE_MB=1024 BENCH_FILES=10000 BENCH_BUILD=release to change)
# Prints the medians and the ratio on/off of each round.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
bash scripts/setup.sh >/dev/null
build=${BENCH_BUILD:-release}
swift build -c "$build" --product bucketfs 2>&1 | tail -1
swift build -c "$build" --product s3bench 2>&1 | tail -1
bin=$(swift build -c "$build" --show-bin-path)
size_mb=${BENCH_SIZE_MB:-1024}
files=${BENCH_FILES:-10000}
rounds=${BENCH_ROUNDS:-5}
work=$(mktemp -d "${TMPDIR:-/tmp}/bucketfs-bench-metrics.XXXXXX")
mnt=$work/mnt; mkdir -p "$mnt"
scraper=
cleanup() {
  set +e
  [ -n "$scraper" ] && kill "$scraper" 2>/dev/null
  fusermount3 -uz "$mnt" 2>/dev/null
  bash scripts/seaweedfs.sh stop "$work/seaweedfs"
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
bash scripts/seaweedfs.sh start "$work/seaweedfs" >/dev/null
eval "$(bash scripts/seaweedfs.sh env "$work/seaweedfs")"
B=bench
now() { date +%s.%N; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin/bucketfs" bucket create $B --url "$AWS_ENDPOINT_URL" >/dev/null
"$bin/s3bench" put-multipart $B big $((size_mb << 20)) --parallel 4 >/dev/null
"$bin/s3bench" put-small $B flat/f "$files" --parallel 16 >/dev/null
head -c $((size_mb << 20)) /dev/urandom > "$work/src.bin"

mount_it() {  # on|off
  if [ "$1" = on ]; then
    "$bin/bucketfs" $B "$mnt" -o url="$AWS_ENDPOINT_URL",metrics=127.0.0.1:$port,staging_dir="$work/staging"
    ( while true; do curl -s -o /dev/null "http://127.0.0.1:$port/metrics"; sleep 1; done ) &
    scraper=$!
  else
    "$bin/bucketfs" $B "$mnt" -o url="$AWS_ENDPOINT_URL",staging_dir="$work/staging"
  fi
}
unmount_it() { [ -n "$scraper" ] && kill "$scraper" 2>/dev/null; scraper=; fusermount3 -u "$mnt"; sleep 0.3; }
wait_size() { for _ in $(seq 3000); do [ "$("$bin/s3bench" head $B "$1")" = "$2" ] && return 0; sleep 0.1; done; return 1; }
declare -A V
for i in $(seq "$rounds"); do
  for mode in off on; do
    mount_it $mode; t0=$(now); dd if="$mnt/big" of=/dev/null bs=1M status=none; t1=$(now); unmount_it
    V[read_$mode]+="$(python3 -c "print(f'{$size_mb*1.048576/($t1-$t0):.1f}')") "
    mount_it $mode; t0=$(now); ls -l "$mnt/flat" >/dev/null; t1=$(now); unmount_it
    V[ls_$mode]+="$(python3 -c "print(f'{$t1-$t0:.3f}')") "
    mount_it $mode; t0=$(now); dd if="$work/src.bin" of="$mnt/w-$mode-$i" bs=1M status=none
    wait_size "w-$mode-$i" $((size_mb << 20)); t1=$(now); unmount_it
    V[write_$mode]+="$(python3 -c "print(f'{$size_mb*1.048576/($t1-$t0):.1f}')") "
  done
done
python3 - "${V[read_off]}" "${V[read_on]}" "${V[ls_off]}" "${V[ls_on]}" "${V[write_off]}" "${V[write_on]}" "$size_mb" "$files" "$rounds" "$build" <<'PY'
import statistics, sys, datetime
ro, rn, lo, ln, wo, wn = (list(map(float, a.split())) for a in sys.argv[1:7])
size, files, rounds, build = sys.argv[7:11]
def ratio(a, b):
    r = [y / x for x, y in zip(a, b)]
    return f"{statistics.median(r):.2f}x ({min(r):.2f}-{max(r):.2f})"
print(f"\nbucketfs with -o metrics off and on, {datetime.date.today()}, {build} build, SeaweedFS on loopback; "
      f"{size} MiB object, {files} objects; medians of {rounds} rounds in turns")
print("| workload | metrics off | metrics on (scraped every second) | on / off, per round |")
print("| --- | --- | --- | --- |")
print(f"| sequential read (MB/s) | {statistics.median(ro):.0f} | {statistics.median(rn):.0f} | {ratio(ro, rn)} |")
print(f"| write until stored (MB/s) | {statistics.median(wo):.0f} | {statistics.median(wn):.0f} | {ratio(wo, wn)} |")
print(f"| `ls -l` of {files} objects (s) | {statistics.median(lo):.3f} | {statistics.median(ln):.3f} | {ratio(lo, ln)} |")
PY
