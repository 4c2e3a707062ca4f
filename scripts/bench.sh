#!/usr/bin/env bash
# Benchmarks on a loopback SeaweedFS, release build: bucketfs beside the raw S3 client (s3bench),
# aws-cli, s3fs and rclone mount (--vfs-cache-mode off; writes mode for the append, which off
# cannot do), cold mount each time. Reads, listings, then writes. Prints a table.
#   scripts/bench.sh            (BENCH_SIZE_MB=1024 BENCH_FILES=10000 to change the sizes;
#                                BENCH_SECTIONS=read,random,fill,scan,list,metadata,write,load to run only some)
# Figures are for comparison on one machine in one run; quote them as ratios. The raw client and
# bucketfs take turns, BENCH_ROUNDS times (default 5), and the table gives the medians: a shared
# machine's noise then moves both sides of a ratio alike.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
bash scripts/setup.sh >/dev/null
export DEBIAN_FRONTEND=noninteractive
for p in s3fs rclone fio; do dpkg -s $p >/dev/null 2>&1 || apt-get install -y -qq $p >/dev/null 2>&1 || echo "bench: $p not installed; its column stays empty"; done
for p in bucketfs s3bench; do swift build -c release --product $p 2>&1 | tail -1; done
bin=$here/.build/release
size_mb=${BENCH_SIZE_MB:-1024}
files=${BENCH_FILES:-10000}
work=$(mktemp -d "${TMPDIR:-/tmp}/bucketfs-bench.XXXXXX")
mnt=$work/mnt; dmnt=$work/dmnt; mkdir -p "$mnt" "$dmnt"
cleanup() {
  set +e
  for m in "$mnt" "$dmnt"; do fusermount3 -uz "$m" 2>/dev/null; done
  bash scripts/seaweedfs.sh stop "$work/seaweedfs"
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
bash scripts/seaweedfs.sh start "$work/seaweedfs" >/dev/null
eval "$(bash scripts/seaweedfs.sh env "$work/seaweedfs")"
export AWS_EC2_METADATA_DISABLED=true
B=bench
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2-$1:.3f}')"; }
declare -A R
rounds=${BENCH_ROUNDS:-5}
sections=${BENCH_SECTIONS:-read,random,fill,scan,list,metadata,write,load}
has() { [[ ",$sections," == *",$1,"* ]]; }
num() { sed 's/.*: //; s/ .*//'; }   # "get ... in 1.0 s: 1064 MB/s" -> 1064
# CPU-seconds: of a process so far (user + system, from /proc/PID/stat), and of a command run to
# its end (its output first, then a last line "cpu SECONDS").
tck=$(getconf CLK_TCK)
cpu_of() { awk -v t="$tck" '{printf "%.3f\n", ($14 + $15) / t}' "/proc/$1/stat" 2>/dev/null || echo 0; }
cpu_run() {
  python3 -c 'import resource, subprocess, sys
out = subprocess.run(sys.argv[1:], check=True, capture_output=True, text=True).stdout
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(out.strip()); print(f"cpu {r.ru_utime + r.ru_stime:.3f}")' "$@"
}
per_gib() { python3 -c "print(f'{($2 - $1) / ($3 / 1024):.2f}')"; }   # cpu0 cpu1 MiB
median() { python3 -c 'import statistics, sys; print(f"{statistics.median(map(float, sys.argv[1:])):g}")' "$@"; }
ratios() {  # "a1 a2 ..." "b1 b2 ...": median, min and max of b_i / a_i
  python3 - "$1" "$2" <<'PY'
import statistics, sys
r = [float(b) / float(a) for a, b in zip(sys.argv[1].split(), sys.argv[2].split())]
print(f"{statistics.median(r):.2f}x ({min(r):.2f}-{max(r):.2f})")
PY
}

"$bin/bucketfs" bucket create $B --url "$AWS_ENDPOINT_URL" >/dev/null
echo "bench: preparing objects (${size_mb} MiB object, $files files in one directory, $files in 100 directories)" >&2
if has read || has random || has fill || has write || has load; then "$bin/s3bench" put-multipart $B big $((size_mb << 20)) --parallel 4 >/dev/null; fi
if has scan; then "$bin/s3bench" put-varied $B scan/ 2000 --min 512 --max 262144 --dirs 20 --parallel 16 >/dev/null; fi
if has list; then
  "$bin/s3bench" put-small $B flat/f $files --parallel 16 >/dev/null
  for d in $(seq -w 0 99); do echo "tree/d$d/f"; done | xargs -P 16 -I{} "$bin/s3bench" put-small $B {} $((files / 100)) >/dev/null
fi

if has list; then R[raw_pages]=$("$bin/s3bench" list $B flat/ | sed 's/.*: //'); fi
if has read && command -v aws >/dev/null; then
  t0=$(now); aws s3 cp --only-show-errors s3://$B/big "$work/aws.bin"; t1=$(now)
  R[aws_get]=$(python3 -c "print(f'{$size_mb*1.048576/($t1-$t0):.0f} MB/s')"); rm -f "$work/aws.bin"
  head -c $((size_mb << 20)) /dev/zero > "$work/up.bin"
  t0=$(now); aws s3 cp --only-show-errors "$work/up.bin" s3://$B/aws-up; t1=$(now)
  R[aws_put]=$(python3 -c "print(f'{$size_mb*1.048576/($t1-$t0):.0f} MB/s')"); rm -f "$work/up.bin"
fi

measure() {  # name pid: the sequential read on $mnt, and the mount's peak RSS
  local name=$1 pid=$2
  local t0 t1 c0
  c0=$(cpu_of "$pid"); t0=$(now); dd if="$mnt/big" of=/dev/null bs=1M status=none; t1=$(now)
  R[${name}_getcpu]=$(per_gib "$c0" "$(cpu_of "$pid")" "$size_mb")
  R[${name}_get]=$(python3 -c "print(f'{$size_mb*1.048576/($t1-$t0):.0f} MB/s')")
  R[${name}_rss]=$(awk '/VmHWM/ {printf "%d MiB", $2/1024}' /proc/$pid/status 2>/dev/null || echo -)
}
listing() {
  local name=$1 t0 t1 c0 pid
  pid=$(pgrep -n -f "[ ]$mnt" || echo 0)
  c0=$(cpu_of "$pid"); t0=$(now); ls -l "$mnt/flat" >/dev/null; t1=$(now); R[${name}_ls]=$(secs $t0 $t1)
  R[${name}_lscpu]=$(python3 -c "print(f'{($(cpu_of "$pid") - $c0) * 1000:.0f} ms')")
  t0=$(now); find "$mnt/tree" >/dev/null; t1=$(now); R[${name}_find]=$(secs $t0 $t1)
}
pid_of() { pgrep -n -f "$1" || echo 0; }

# The strictest raw client: curl --aws-sigv4, one process per GET for the big read (8 at once, 8
# MiB ranges), and for many small GETs one curl with --parallel over a config of requests (each
# request's options repeated after `next`, which resets them).
csign=(--aws-sigv4 "aws:amz:${AWS_DEFAULT_REGION:-us-east-1}:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY")
curl_big() {  # MB/s of the big object in 8 MiB ranged GETs, 8 at once
  local t0 t1 n=$(( (size_mb + 7) / 8 ))
  t0=$(now)
  seq 0 $((n - 1)) | xargs -P 8 -I{} bash -c 'o=$(( {} << 23 )); curl -sf "$@" -r "$o-$(( o + (1 << 23) - 1 ))" -o /dev/null "$AWS_ENDPOINT_URL/'$B'/big"' _ "${csign[@]}"
  t1=$(now); python3 -c "print(f'{$size_mb*1.048576/($t1-$t0):.0f}')"
}
curl_many() {  # parallel, then "KEY [RANGE]" lines on stdin: seconds for all of them
  local cfg=$work/curl.cfg t0 t1
  local first=1
  while read -r key range; do
    [ $first = 1 ] || echo next
    first=0
    printf 'url = "%s/%s/%s"\noutput = "/dev/null"\nsilent\nfail\naws-sigv4 = "%s"\nuser = "%s"\n' \
      "$AWS_ENDPOINT_URL" "$B" "$key" "${csign[1]}" "${csign[3]}"
    if [ -n "$range" ]; then printf 'range = "%s"\n' "$range"; fi
  done > "$cfg"
  # Its parallel progress meter ignores -s: stderr goes to a file.
  t0=$(now); curl -s --parallel --parallel-max "$1" -K "$cfg" 2>"$work/curl.err"; t1=$(now); secs $t0 $t1
}

# bucketfs and the raw client in turns: a fresh mount for each read and each listing (cold caches).
curl_g=() raw_g=() bfs_g=() dio_g=() raw_l=() bfs_l=() bfs_f=() rss=() raw_gc=() bfs_gc=()
has read && for _ in $(seq "$rounds"); do
  curl_g+=("$(curl_big)")
  o=$(cpu_run "$bin/s3bench" get $B big --parallel 8 --touch)
  raw_g+=("$(echo "$o" | head -1 | num)"); raw_gc+=("$(per_gib 0 "$(echo "$o" | awk '/^cpu/ {print $2}')" "$size_mb")")
  "$bin/bucketfs" $B "$mnt" -o url="$AWS_ENDPOINT_URL"
  measure bucketfs "$(pid_of "[b]ucketfs $B $mnt")"; fusermount3 -u "$mnt"; sleep 0.5
  bfs_g+=("${R[bucketfs_get]% MB/s}"); rss+=("${R[bucketfs_rss]% MiB}"); bfs_gc+=("${R[bucketfs_getcpu]}")
  "$bin/bucketfs" $B "$mnt" -o url="$AWS_ENDPOINT_URL",direct_io
  measure dio "$(pid_of "[b]ucketfs $B $mnt")"; fusermount3 -u "$mnt"; sleep 0.5
  dio_g+=("${R[dio_get]% MB/s}")
done
has list && for _ in $(seq "$rounds"); do
  t0=$(now); "$bin/s3bench" list $B flat/ >/dev/null; t1=$(now); raw_l+=("$(secs $t0 $t1)")
  "$bin/bucketfs" $B "$mnt" -o url="$AWS_ENDPOINT_URL"; listing bucketfs; fusermount3 -u "$mnt"; sleep 0.5
  bfs_l+=("${R[bucketfs_ls]}"); bfs_f+=("${R[bucketfs_find]}")
done
if has read; then
  R[raw_get]="$(median "${raw_g[@]}") MB/s"; R[bucketfs_get]="$(median "${bfs_g[@]}") MB/s"; R[dio_get]="$(median "${dio_g[@]}") MB/s"
  R[bucketfs_rss]="$(printf '%s\n' "${rss[@]}" | sort -n | tail -1) MiB"
  R[curl_get]="$(median "${curl_g[@]}") MB/s"; R[ratio_curl_get]=$(ratios "${curl_g[*]}" "${bfs_g[*]}")
  R[ratio_get]=$(ratios "${raw_g[*]}" "${bfs_g[*]}"); R[ratio_dio_get]=$(ratios "${raw_g[*]}" "${dio_g[*]}")
  R[raw_getcpu]=$(median "${raw_gc[@]}"); R[bucketfs_getcpu]=$(median "${bfs_gc[@]}")
fi
if has list; then
  R[raw_list]=$(median "${raw_l[@]}"); R[bucketfs_ls]=$(median "${bfs_l[@]}"); R[bucketfs_find]=$(median "${bfs_f[@]}")
  R[ratio_ls]=$(ratios "${raw_l[*]}" "${bfs_l[*]}")
fi

if command -v s3fs >/dev/null; then
  echo "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" > "$work/pw"; chmod 600 "$work/pw"
  s3opts="passwd_file=$work/pw,url=$AWS_ENDPOINT_URL,use_path_request_style"
  if has read; then s3fs $B "$mnt" -o $s3opts; measure s3fs "$(pid_of "[s]3fs $B")"; fusermount3 -u "$mnt"; sleep 0.5; fi
  if has list; then s3fs $B "$mnt" -o $s3opts; listing s3fs; fusermount3 -u "$mnt"; sleep 0.5; fi
fi
if command -v rclone >/dev/null; then
  export RCLONE_CONFIG_BS_TYPE=s3 RCLONE_CONFIG_BS_PROVIDER=Other RCLONE_CONFIG_BS_ENDPOINT=$AWS_ENDPOINT_URL \
    RCLONE_CONFIG_BS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID RCLONE_CONFIG_BS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
  # rclone refuses AWS_CA_BUNDLE with its own transport; it is not needed on loopback http.
  rc() { env -u AWS_CA_BUNDLE rclone mount bs:$B "$mnt" --vfs-cache-mode off --daemon; for _ in $(seq 50); do mountpoint -q "$mnt" && break; sleep 0.1; done; }
  if has read && rc; then measure rclone "$(pid_of "[r]clone mount bs:$B")"; fusermount3 -u "$mnt"; sleep 0.5; fi
  if has list && rc; then listing rclone; fusermount3 -u "$mnt"; sleep 0.5; fi
fi

# Blocks arrive counted as bytes received; random reads' exact ranges in their own counter.
fetched() { curl -s "http://127.0.0.1:$mport/metrics" | awk '/^bucketfs_(s3_bytes_received|random_read_bytes_fetched)_total/ {v += $2} END {print v + 0}'; }
fiorun() {  # bs jobs [seconds]: "IOPS bytes-read"
  python3 - "$1" "$2" "$mnt/big" "${3:-${BENCH_RANDOM_SECONDS:-10}}" <<'PY'
import json, subprocess, sys
bs, jobs, path, secs = sys.argv[1:5]
out = subprocess.run(["fio", "--name=r", "--filename=" + path, "--rw=randread", "--bs=" + bs, "--ioengine=psync",
                    "--numjobs=" + jobs, "--runtime=" + secs, "--time_based", "--group_reporting",
                    "--readonly", "--output-format=json"], capture_output=True, text=True, check=True).stdout
r = json.loads(out)["jobs"][0]["read"]
print(f"{r['iops']:.0f} {r['io_bytes']}")
PY
}

# Random reads: fio randread (psync) on the big object through a cold mount, beside the raw
# client's ranged GETs of the same size at the same concurrency; bytes fetched from S3 per byte
# read, from the mount's metrics.
if has random && command -v fio >/dev/null; then
  echo "bench: random reads" >&2
  for cfg in "4k 4" "128k 4" "4k 16" "128k 16"; do
    set -- $cfg; bs=$1; jobs=$2; bytes=$(( ${bs%k} * 1024 ))
    R[raw_rand_${bs}_$jobs]=$("$bin/s3bench" randget $B big --size $bytes --parallel $jobs --seconds "${BENCH_RANDOM_SECONDS:-10}" | sed 's/.*: //')
    n=$((jobs * 500))
    t=$(python3 -c "import random; [print('big', f'{o}-{o + $bytes - 1}') for o in (random.randrange(0, ($size_mb << 20) // $bytes) * $bytes for _ in range($n))]" | curl_many $jobs)
    R[curl_rand_${bs}_$jobs]="$(python3 -c "print(f'{$n/$t:.0f}')") GET/s"
    mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$bin/bucketfs" $B "$mnt" -o url="$AWS_ENDPOINT_URL",metrics=127.0.0.1:$mport
    f0=$(fetched); read -r iops io < <(fiorun $bs $jobs); f1=$(fetched)
    R[bucketfs_rand_${bs}_$jobs]="$iops reads/s, fetched $(python3 -c "print(f'{($f1-$f0)/max(1,$io):.2f}')")x the bytes read"
    fusermount3 -u "$mnt"; sleep 0.5
  done
  if command -v s3fs >/dev/null; then
    echo "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" > "$work/pw"; chmod 600 "$work/pw"
    s3fs $B "$mnt" -o "passwd_file=$work/pw,url=$AWS_ENDPOINT_URL,use_path_request_style"
    read -r iops io < <(fiorun 4k 4); R[s3fs_rand_4k_4]="$iops reads/s"
    fusermount3 -u "$mnt"; sleep 0.5
  fi
fi

# Objects that fit: the same fio run with a disk cache four times the object, so a random
# reader's object is fetched whole in the background, over 5 s and over 60 s (cold each time),
# beside s3fs (which downloads the object at open into its own temporary file).
if has fill && command -v fio >/dev/null; then
  echo "bench: random reads of an object that fits the cache" >&2
  for secs in 5 60; do
    rm -rf "$work/fillcache"
    mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$bin/bucketfs" $B "$mnt" -o url="$AWS_ENDPOINT_URL",metrics=127.0.0.1:$mport,cache_dir=$work/fillcache,cache_size=$((size_mb * 4 + 64))M
    f0=$(fetched); read -r iops io < <(fiorun 4k 4 $secs); f1=$(fetched)
    R[bucketfs_fill_$secs]="$iops reads/s, fetched $(python3 -c "print(f'{($f1-$f0)/(1<<20):.0f}')") MiB"
    fusermount3 -u "$mnt"; sleep 0.5
    if command -v s3fs >/dev/null; then
      echo "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" > "$work/pw"; chmod 600 "$work/pw"
      s3fs $B "$mnt" -o "passwd_file=$work/pw,url=$AWS_ENDPOINT_URL,use_path_request_style"
      read -r iops io < <(fiorun 4k 4 $secs); R[s3fs_fill_$secs]="$iops reads/s"
      fusermount3 -u "$mnt"; sleep 0.5
    fi
  done
  rm -rf "$work/fillcache"
fi

# Many small files read in order: a cold read-only mount, `find | sort | xargs cat` over 2,000
# files of 512 B to 256 KiB in 20 directories, beside the raw client fetching the same objects
# 16 at a time (a LIST, then GETs), with the next files fetched ahead and without (files_ahead=0).
if has scan; then
  echo "bench: small files read in order" >&2
  scan() { (cd "$mnt/scan" && find . -type f | LC_ALL=C sort | xargs cat | md5sum | cut -c1-32); }
  curl_s=() raw_s=() bfs_s=() off_s=()
  for _ in $(seq "$rounds"); do
    curl_s+=("$(for n in $(seq 0 1999); do printf 'scan/d%02d/f%05d\n' $((n % 20)) $n; done | curl_many 16)")
    t0=$(now); "$bin/s3bench" get-all $B scan/ --parallel 16 >/dev/null; t1=$(now); raw_s+=("$(secs $t0 $t1)")
    "$bin/bucketfs" $B "$mnt" -o url="$AWS_ENDPOINT_URL",ro
    t0=$(now); sum=$(scan); t1=$(now); bfs_s+=("$(secs $t0 $t1)")
    fusermount3 -u "$mnt"; sleep 0.5
    "$bin/bucketfs" $B "$mnt" -o url="$AWS_ENDPOINT_URL",ro,files_ahead=0
    t0=$(now); sum0=$(scan); t1=$(now); off_s+=("$(secs $t0 $t1)")
    fusermount3 -u "$mnt"; sleep 0.5
    [ "$sum" = "$sum0" ] || sum=WRONG
  done
  R[curl_scan]=$(median "${curl_s[@]}"); R[ratio_curl_scan]=$(ratios "${bfs_s[*]}" "${curl_s[*]}")
  R[raw_scan]=$(median "${raw_s[@]}"); R[bucketfs_scan]="$(median "${bfs_s[@]}") ($( [ "$sum" = WRONG ] && echo WRONG || echo right))"
  R[bucketfs_scan_off]=$(median "${off_s[@]}"); R[ratio_scan]=$(ratios "${bfs_s[*]}" "${raw_s[*]}"); R[gain_scan]=$(ratios "${bfs_s[*]}" "${off_s[*]}")
  if command -v s3fs >/dev/null; then
    echo "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" > "$work/pw"; chmod 600 "$work/pw"
    s3fs $B "$mnt" -o "passwd_file=$work/pw,url=$AWS_ENDPOINT_URL,use_path_request_style,ro"
    t0=$(now); s=$(scan); t1=$(now); R[s3fs_scan]="$(secs $t0 $t1)$( [ "$s" = "$sum" ] || echo ' WRONG')"
    fusermount3 -u "$mnt"; sleep 0.5
  fi
  if command -v rclone >/dev/null; then
    export RCLONE_CONFIG_BS_TYPE=s3 RCLONE_CONFIG_BS_PROVIDER=Other RCLONE_CONFIG_BS_ENDPOINT=$AWS_ENDPOINT_URL \
      RCLONE_CONFIG_BS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID RCLONE_CONFIG_BS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
    env -u AWS_CA_BUNDLE rclone mount bs:$B "$mnt" --vfs-cache-mode off --read-only --daemon
    for _ in $(seq 50); do mountpoint -q "$mnt" && break; sleep 0.1; done
    t0=$(now); s=$(scan); t1=$(now); R[rclone_scan]="$(secs $t0 $t1)$( [ "$s" = "$sum" ] || echo ' WRONG')"
    fusermount3 -u "$mnt"; sleep 0.5
  fi
fi

# Metadata: $files entries written through bucketfs with modes, owners and times that are not
# the defaults and one symlink in ten, listed by a cold mount beside the raw LIST of the same
# directory, beside HEADs of every entry (the record deleted, a read-only posix_metadata mount),
# and beside s3fs; and a 1,000-entry tree in 10 directories walked by find -type l and tar cf,
# checked against what the writing mount showed.
if has metadata; then
  echo "bench: metadata (writing $files entries and a 1,000-entry tree through bucketfs)" >&2
  "$bin/bucketfs" $B "$mnt" -o url="$AWS_ENDPOINT_URL"
  t0=$(now); python3 scripts/bench_tree.py "$mnt/meta" "$files" 1; python3 scripts/bench_tree.py "$mnt/mtree" 1000 10; t1=$(now)
  R[meta_write]=$(secs $t0 $t1)
  inventory() { (cd "$1" && find . -printf '%p %y %m %U %G %T@ %l\n' | sort); }
  inventory "$mnt/mtree" > "$work/mtree.expected"
  fusermount3 -u "$mnt"; sleep 0.5
  raw_m=() bfs_m=()
  for _ in $(seq "$rounds"); do
    t0=$(now); "$bin/s3bench" list $B meta/ >/dev/null; t1=$(now); raw_m+=("$(secs $t0 $t1)")
    "$bin/bucketfs" $B "$mnt" -o url="$AWS_ENDPOINT_URL"
    t0=$(now); ls -l "$mnt/meta" > "$work/meta.ls"; t1=$(now); bfs_m+=("$(secs $t0 $t1)")
    fusermount3 -u "$mnt"; sleep 0.5
  done
  R[raw_mlist]=$(median "${raw_m[@]}"); R[bucketfs_mls]=$(median "${bfs_m[@]}"); R[ratio_mls]=$(ratios "${raw_m[*]}" "${bfs_m[*]}")
  # Right, too: the modes and symlinks the writer gave.
  R[bucketfs_mls_ok]=$(awk 'NR>1 && /^l/ {l++} NR>1 && /^-rw-/ {f++} END {print (l == '$((files / 10))' && f > 0) ? "right" : "WRONG"}' "$work/meta.ls")
  "$bin/bucketfs" $B "$mnt" -o url="$AWS_ENDPOINT_URL"
  t0=$(now); n=$(find "$mnt/mtree" -type l | wc -l); t1=$(now); R[bucketfs_findl]="$(secs $t0 $t1) ($n links)"
  t0=$(now); tar cf - -C "$mnt" mtree | wc -c >/dev/null; t1=$(now); R[bucketfs_tar]=$(secs $t0 $t1)
  R[bucketfs_tree_ok]=$(cmp -s <(inventory "$mnt/mtree") "$work/mtree.expected" && echo right || echo WRONG)
  fusermount3 -u "$mnt"; sleep 0.5
  # What close-to-open costs: cp -r out of a cold read-write mount (a HEAD per open of a file whose
  # attributes are over a second old) beside a read-only one (no HEAD), in turns.
  rw_c=() ro_c=()
  for i in $(seq "$rounds"); do
    for mode in rw ro; do
      "$bin/bucketfs" $B "$mnt" -o url="$AWS_ENDPOINT_URL",$mode
      t0=$(now); cp -r "$mnt/mtree" "$work/out-$mode-$i"; t1=$(now)
      if [ $mode = rw ]; then rw_c+=("$(secs $t0 $t1)"); else ro_c+=("$(secs $t0 $t1)"); fi
      fusermount3 -u "$mnt"; sleep 0.5; rm -rf "$work/out-$mode-$i"
    done
  done
  R[c2o_rw]=$(median "${rw_c[@]}"); R[c2o_ro]=$(median "${ro_c[@]}"); R[ratio_c2o]=$(ratios "${ro_c[*]}" "${rw_c[*]}")
  # The alternative to a record: a HEAD of every entry, 32 in flight (read-only, so nothing rewrites the record).
  .venv/bin/python3 -c "import boto3, os; boto3.client('s3', endpoint_url=os.environ['AWS_ENDPOINT_URL']).delete_object(Bucket='$B', Key='meta/.bucketfs-metadata')"
  "$bin/bucketfs" $B "$mnt" -o url="$AWS_ENDPOINT_URL",ro,posix_metadata
  t0=$(now); ls -l "$mnt/meta" >/dev/null; t1=$(now); R[heads_mls]=$(secs $t0 $t1)
  fusermount3 -u "$mnt"; sleep 0.5
  if command -v s3fs >/dev/null; then
    echo "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" > "$work/pw"; chmod 600 "$work/pw"
    s3opts="passwd_file=$work/pw,url=$AWS_ENDPOINT_URL,use_path_request_style"
    s3fs $B "$mnt" -o $s3opts
    t0=$(now); ls -l "$mnt/meta" >/dev/null; t1=$(now); R[s3fs_mls]=$(secs $t0 $t1)
    fusermount3 -u "$mnt"; sleep 0.5; s3fs $B "$mnt" -o $s3opts
    t0=$(now); n=$(find "$mnt/mtree" -type l | wc -l); t1=$(now); R[s3fs_findl]="$(secs $t0 $t1) ($n links)"
    t0=$(now); tar cf - -C "$mnt" mtree | wc -c >/dev/null; t1=$(now); R[s3fs_tar]=$(secs $t0 $t1)
    fusermount3 -u "$mnt"; sleep 0.5
  fi
fi

# Writes: a large file written with dd (close waits until it is stored), 1,000 small files
# with cp -r (each close durable), and 1 MiB appended to a stored large object, with the bytes
# that travel towards the server counted by a forwarding proxy.
if has write; then
echo "bench: writes" >&2
head -c $((size_mb << 20)) /dev/urandom > "$work/src.bin"
mkdir -p "$work/small"; for i in $(seq -w 0 999); do head -c 4096 /dev/urandom > "$work/small/f$i"; done
head -c 1048576 /dev/urandom > "$work/app.bin"
s3port=${AWS_ENDPOINT_URL##*:}
pport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 scripts/tcp_proxy.py "$pport" "$s3port" "$work/sent" >/dev/null 2>&1 &
proxy=$!
trap 'kill $proxy 2>/dev/null; cleanup' EXIT INT TERM
proxy_url=http://127.0.0.1:$pport
for _ in $(seq 50); do [ -f "$work/sent" ] && break; sleep 0.1; done
wait_size() {  # key size: until the object has that size (for mounts that store after close)
  for _ in $(seq 3000); do [ "$("$bin/s3bench" head $B "$1")" = "$2" ] && return 0; sleep 0.1; done; return 1
}
writes() {  # name pid [round]
  local name=$1 pid=$2 t0 t1 c0
  c0=$(cpu_of "$pid"); t0=$(now); dd if="$work/src.bin" of="$mnt/w-$name${3:-}" bs=1M status=none; wait_size "w-$name${3:-}" $((size_mb << 20)); t1=$(now)
  R[${name}_putcpu]=$(per_gib "$c0" "$(cpu_of "$pid")" "$size_mb")
  R[${name}_put]=$(python3 -c "print(f'{$size_mb*1.048576/($t1-$t0):.0f} MB/s')")
  R[${name}_wrss]=$(awk '/VmHWM/ {printf "%d MiB", $2/1024}' /proc/$pid/status 2>/dev/null || echo -)
  c0=$(cpu_of "$pid"); t0=$(now); cp -r "$work/small" "$mnt/cp-$name${3:-}"; wait_size "cp-$name${3:-}/f999" 4096; t1=$(now)
  R[${name}_cpcpu]=$(python3 -c "print(f'{($(cpu_of "$pid") - $c0):.2f}')")
  R[${name}_cp]=$(python3 -c "print(f'{1000/($t1-$t0):.0f} files/s')")
}
append() {  # name: appends through a mount of the proxy
  local name=$1 t0 t1 b0 b1
  sleep 0.3; b0=$(cat "$work/sent")
  t0=$(now); cat "$work/app.bin" >> "$mnt/app-$name"; wait_size "app-$name" $(((size_mb + 1) << 20)); t1=$(now)
  sleep 0.3; b1=$(cat "$work/sent")
  R[${name}_app]=$(python3 -c "print(f'{$t1-$t0:.2f} s, {($b1-$b0)/1048576:.1f} MiB sent')")
}
for t in bucketfs s3fs rclone; do "$bin/s3bench" copy $B big "app-$t"; done
# The raw client's writes and the mount's in turns, against the server as it is at that moment
# (it slows down as it fills).
raw_p=() bfs_p=() dio_p=() raw_s=() bfs_s=() raw_pc=() bfs_pc=() raw_sc=() bfs_sc=()
"$bin/bucketfs" $B "$mnt" -o url="$AWS_ENDPOINT_URL"
"$bin/bucketfs" $B "$dmnt" -o url="$AWS_ENDPOINT_URL",direct_io
curl_p=()
for i in $(seq "$rounds"); do
  # curl: one PUT of the whole file (the server's single-request path, no MD5).
  t0=$(now); curl -sf "${csign[@]}" -T "$work/src.bin" -o /dev/null "$AWS_ENDPOINT_URL/$B/curl-put-$i"; t1=$(now)
  curl_p+=("$(python3 -c "print(f'{$size_mb*1.048576/($t1-$t0):.0f}')")")
  o=$(cpu_run "$bin/s3bench" put-multipart $B raw-put-$i $((size_mb << 20)) --parallel 4)
  raw_p+=("$(echo "$o" | head -1 | num)"); raw_pc+=("$(per_gib 0 "$(echo "$o" | awk '/^cpu/ {print $2}')" "$size_mb")")
  o=$(cpu_run "$bin/s3bench" put-small $B small$i/f 1000)
  raw_s+=("$(echo "$o" | head -1 | num)"); raw_sc+=("$(echo "$o" | awk '/^cpu/ {print $2}')")
  writes bucketfs "$(pid_of "[b]ucketfs $B $mnt")" "-$i"
  bfs_p+=("${R[bucketfs_put]% MB/s}"); bfs_s+=("${R[bucketfs_cp]% files/s}"); bfs_pc+=("${R[bucketfs_putcpu]}"); bfs_sc+=("${R[bucketfs_cpcpu]}")
  t0=$(now); dd if="$work/src.bin" of="$dmnt/w-dio-$i" bs=1M status=none; wait_size "w-dio-$i" $((size_mb << 20)); t1=$(now)
  dio_p+=("$(python3 -c "print(f'{$size_mb*1.048576/($t1-$t0):.0f}')")")
done
fusermount3 -u "$mnt"; fusermount3 -u "$dmnt"; sleep 0.5
R[curl_put]="$(median "${curl_p[@]}") MB/s"; R[ratio_curl_put]=$(ratios "${curl_p[*]}" "${bfs_p[*]}")
R[raw_put]="$(median "${raw_p[@]}") MB/s"; R[bucketfs_put]="$(median "${bfs_p[@]}") MB/s"
R[raw_small]="$(median "${raw_s[@]}") PUT/s"; R[bucketfs_cp]="$(median "${bfs_s[@]}") files/s"
R[dio_put]="$(median "${dio_p[@]}") MB/s"
R[raw_putcpu]=$(median "${raw_pc[@]}"); R[bucketfs_putcpu]=$(median "${bfs_pc[@]}")
R[raw_cpcpu]=$(median "${raw_sc[@]}"); R[bucketfs_cpcpu]=$(median "${bfs_sc[@]}")
R[ratio_put]=$(ratios "${raw_p[*]}" "${bfs_p[*]}"); R[ratio_dio_put]=$(ratios "${raw_p[*]}" "${dio_p[*]}"); R[ratio_cp]=$(ratios "${raw_s[*]}" "${bfs_s[*]}")
"$bin/bucketfs" $B "$mnt" -o url="$proxy_url"; append bucketfs; fusermount3 -u "$mnt"; sleep 0.5
if command -v s3fs >/dev/null; then
  s3fs $B "$mnt" -o $s3opts; writes s3fs "$(pid_of "[s]3fs $B")"; fusermount3 -u "$mnt"; sleep 0.5
  s3fs $B "$mnt" -o "passwd_file=$work/pw,url=$proxy_url,use_path_request_style"; append s3fs; fusermount3 -u "$mnt"; sleep 0.5
fi
if command -v rclone >/dev/null; then
  if rc; then writes rclone "$(pid_of "[r]clone mount bs:$B")"; fusermount3 -u "$mnt"; sleep 0.5; fi
  if env -u AWS_CA_BUNDLE RCLONE_CONFIG_BS_ENDPOINT=$proxy_url rclone mount bs:$B "$mnt" --vfs-cache-mode writes --vfs-write-back 0s --daemon; then
    for _ in $(seq 50); do mountpoint -q "$mnt" && break; sleep 0.1; done
    append rclone; fusermount3 -u "$mnt"; sleep 0.5
  fi
fi

fi

# Memory under load: 16 writers (256 MiB each, dd) and 16 readers (dd of the big object) at
# once on one default mount; the mount's peak RSS against the documented bound (150 MiB).
if has load; then
  echo "bench: 16 writers and 16 readers at once" >&2
  "$bin/bucketfs" $B "$mnt" -o url="$AWS_ENDPOINT_URL"
  pid=$(pid_of "[b]ucketfs $B $mnt"); mkdir -p "$mnt/load"
  t0=$(now)
  jobs=()
  for i in $(seq 16); do
    dd if=/dev/zero of="$mnt/load/w$i" bs=1M count=256 status=none & jobs+=($!)
    dd if="$mnt/big" of=/dev/null bs=1M status=none & jobs+=($!)
  done
  # Only these: a bare `wait` would also wait for servers started in the background.
  wait "${jobs[@]}"; t1=$(now)
  R[load_time]=$(secs $t0 $t1)
  R[load_rss]=$(awk '/VmHWM/ {printf "%d MiB", $2/1024}' /proc/$pid/status 2>/dev/null || echo -)
  ok=0; for i in $(seq 16); do [ "$(stat -c %s "$mnt/load/w$i")" = $((256 << 20)) ] && ok=$((ok + 1)); done
  R[load_ok]="$ok of 16 files whole"
  rm -rf "$mnt/load"; fusermount3 -u "$mnt"; sleep 0.5
fi

v() { echo "${R[$1]:--}"; }
cat <<TABLE

bucketfs benchmark, $(date -u +%Y-%m-%d), SeaweedFS on loopback, $(nproc) cores; ${size_mb} MiB object, $files objects;
raw client and bucketfs: medians of $rounds rounds taken in turns; s3fs and rclone: one round
| workload | raw client (s3bench) | curl --aws-sigv4 | aws-cli | bucketfs | s3fs | rclone mount |
| --- | --- | --- | --- | --- | --- | --- |
| sequential read of the ${size_mb} MiB object (dd bs=1M; raw: 8 parallel 8 MiB ranged GETs) | $(v raw_get) | $(v curl_get) | $(v aws_get) | $(v bucketfs_get) | $(v s3fs_get) | $(v rclone_get) |
| the same read with \`-o direct_io\` | - | - | - | $(v dio_get) | - | - |
| peak RSS during that read | - | - | - | $(v bucketfs_rss) | $(v s3fs_rss) | $(v rclone_rss) |
| \`ls -l\` of $files objects in one directory (s; raw: LIST pages alone) | $(v raw_list) | - | - | $(v bucketfs_ls) | $(v s3fs_ls) | $(v rclone_ls) |
| \`find\` over $files objects in 100 directories (s) | - | - | - | $(v bucketfs_find) | $(v s3fs_find) | $(v rclone_find) |
| CPU-seconds per GiB of that read (the mount process, user + system; raw: s3bench touching every byte) | $(v raw_getcpu) | - | - | $(v bucketfs_getcpu) | $(v s3fs_getcpu) | $(v rclone_getcpu) |
| CPU of the mount during that \`ls -l\` | - | - | - | $(v bucketfs_lscpu) | $(v s3fs_lscpu) | $(v rclone_lscpu) |
| LIST pages per second | $(v raw_pages) | - | - | - | - | - |
| write of a ${size_mb} MiB file until stored (dd bs=1M; raw: multipart, 4 parallel 8 MiB parts) | $(v raw_put) | $(v curl_put) | $(v aws_put) | $(v bucketfs_put) | $(v s3fs_put) | $(v rclone_put) |
| the same write with \`-o direct_io\` | - | - | - | $(v dio_put) | - | - |
| peak RSS during that write | - | - | - | $(v bucketfs_wrss) | $(v s3fs_wrss) | $(v rclone_wrss) |
| CPU-seconds per GiB of that write (the mount process; raw: s3bench, with the same part checksums) | $(v raw_putcpu) | - | - | $(v bucketfs_putcpu) | $(v s3fs_putcpu) | $(v rclone_putcpu) |
| peak RSS of one mount with 16 writers (256 MiB each) and 16 readers (the ${size_mb} MiB object) at once | - | - | - | $(v load_rss) in $(v load_time) s, $(v load_ok) | - | - |
| \`cp -r\` of 1,000 files of 4 KiB until stored (raw: sequential PUTs) | $(v raw_small) | - | - | $(v bucketfs_cp) | $(v s3fs_cp) | $(v rclone_cp) |
| CPU-seconds of that \`cp -r\` (the mount process; raw: s3bench) | $(v raw_cpcpu) | - | - | $(v bucketfs_cpcpu) | $(v s3fs_cpcpu) | $(v rclone_cpcpu) |
| append of 1 MiB to the stored ${size_mb} MiB object, until stored, and bytes sent | - | - | - | $(v bucketfs_app) | $(v s3fs_app) | $(v rclone_app) (writes mode) |
| fio randread 4 KiB, 4 jobs, ${BENCH_RANDOM_SECONDS:-10} s on the ${size_mb} MiB object (raw: 4 KiB ranged GETs, 4 at once) | $(v raw_rand_4k_4) | $(v curl_rand_4k_4) | - | $(v bucketfs_rand_4k_4) | $(v s3fs_rand_4k_4) | - |
| fio randread 128 KiB, 4 jobs | $(v raw_rand_128k_4) | $(v curl_rand_128k_4) | - | $(v bucketfs_rand_128k_4) | - | - |
| fio randread 4 KiB, 16 jobs | $(v raw_rand_4k_16) | $(v curl_rand_4k_16) | - | $(v bucketfs_rand_4k_16) | - | - |
| fio randread 128 KiB, 16 jobs | $(v raw_rand_128k_16) | $(v curl_rand_128k_16) | - | $(v bucketfs_rand_128k_16) | - | - |
| fio randread 4 KiB, 4 jobs, 5 s, disk cache 4x the object (fetched whole in the background) | - | - | - | $(v bucketfs_fill_5) | $(v s3fs_fill_5) | - |
| the same over 60 s | - | - | - | $(v bucketfs_fill_60) | $(v s3fs_fill_60) | - |
| \`find \| sort \| xargs cat\` of 2,000 files (512 B-256 KiB), cold, ro (s; raw: LIST + GETs 16 at once) | $(v raw_scan) | $(v curl_scan) | - | $(v bucketfs_scan), $(v ratio_scan) the raw rate; files_ahead=0: $(v bucketfs_scan_off), $(v gain_scan) the time | $(v s3fs_scan) | $(v rclone_scan) |
| \`ls -l\` of $files entries written through bucketfs (modes, owners, times, 1 in 10 a symlink), cold (s; raw: LIST pages alone) | $(v raw_mlist) | - | - | $(v bucketfs_mls), $(v bucketfs_mls_ok) | $(v s3fs_mls) | - |
| the same with a HEAD per entry instead of the record (\`ro,posix_metadata\`, record deleted; s) | - | - | - | $(v heads_mls) | - | - |
| \`find -type l\` of a 1,000-entry tree with such metadata, cold (s) | - | - | - | $(v bucketfs_findl) | $(v s3fs_findl) | - |
| \`cp -r\` of that tree out of a cold mount (s): read-write (close-to-open HEADs) / read-only; ratio per round | - | - | - | $(v c2o_rw) / $(v c2o_ro); $(v ratio_c2o) | - | - |
| \`tar cf\` of that tree, cold (s); every type, mode, owner, time and target as written | - | - | - | $(v bucketfs_tar), $(v bucketfs_tree_ok) | $(v s3fs_tar) | - |

bucketfs / raw client, per round, median (lowest-highest) of $rounds rounds:
| read | read vs curl | read, \`-o direct_io\` | \`ls -l\` time | \`ls -l\` time, entries with metadata | write | write vs curl (one PUT) | write, \`-o direct_io\` | \`cp -r\` | scan rate vs curl |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
| $(v ratio_get) | $(v ratio_curl_get) | $(v ratio_dio_get) | $(v ratio_ls) | $(v ratio_mls) | $(v ratio_put) | $(v ratio_curl_put) | $(v ratio_dio_put) | $(v ratio_cp) | $(v ratio_curl_scan) |
TABLE
