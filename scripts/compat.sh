#!/usr/bin/env bash
# The compatibility matrix: starts each S3 engine on free loopback ports, runs the same
# functional check through a bucketfs mount on each (files small and multipart, append, truncate,
# renames, chmod and symlinks across a remount, rm -rf, each checked through the S3 API too),
# prints one line per engine and check, and stops everything it started, also on failure.
#   scripts/compat.sh              every engine
#   scripts/compat.sh moto swift   only the engines named (seaweedfs swift moto https v1only vhost)
# Ends with "compat: N passed, M failed" and a Markdown table of the run (README "Tested with");
# exits non-zero if any check failed.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
bash scripts/setup.sh >/dev/null || { echo "compat: setup failed" >&2; exit 1; }
swift build --product bucketfs >/dev/null 2>&1 || swift build --product bucketfs || exit 1
bin=$(swift build --show-bin-path)/bucketfs
venv=${BUCKETFS_VENV:-$here/.venv}
py=$venv/bin/python
swift_script=${SWIFT_S3API_SCRIPT:-$here/../shared/backends/swift-s3api.sh}
engines=${*:-seaweedfs swift moto https v1only vhost}

run=$(mktemp -d "${TMPDIR:-/tmp}/bucketfs-compat.XXXXXX")
chmod 711 "$run"
pids=()
cleanup() {
  set +e
  awk -v r="$run" '$2 ~ "^"r {print $2}' /proc/mounts | while read -r m; do fusermount3 -uz "$m" 2>/dev/null || umount -l "$m"; done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for d in "$run"/seaweedfs*; do [ -d "$d" ] && bash scripts/seaweedfs.sh stop "$d"; done
  [ -d "$run/swift/run" ] && bash "$swift_script" stop "$run/swift" >/dev/null 2>&1
  pkill -KILL -f -- "$run/" 2>/dev/null
  rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

passed=0; failed=0; rows=()
declare -A engine_failed=()
# result ENGINE CHECK STATUS [DETAIL]
result() {
  printf '%-24s %-24s %s\n' "$1" "$2" "$3${4:+ ($4)}"
  if [ "$3" = ok ]; then passed=$((passed + 1)); else failed=$((failed + 1)); engine_failed[$1]=1; fi
}
tail_result() { if [ -n "${engine_failed[$1]:-}" ]; then echo FAIL; else echo pass; fi; }
# step ENGINE CHECK COMMAND...: runs the command, reports it; its output goes to the log.
step() {
  local e=$1 c=$2; shift 2
  if "$@" >>"$run/log" 2>&1; then result "$e" "$c" ok; return 0; fi
  result "$e" "$c" FAIL "see below"; echo "--- $e $c failed; log tail:"; tail -15 "$run/log"; return 1
}

head -c 100000 /dev/urandom >"$run/small"
head -c $((70 << 20)) /dev/urandom >"$run/big"
head -c 12345 /dev/urandom >"$run/tail"
cat "$run/big" "$run/tail" >"$run/big+tail"

# The engine in force for the helpers below.
API=""; REGION=""; BUCKET=""; MNT=""; OPTS=""

mount_it() { "$bin" "$BUCKET" "$MNT" -o "$OPTS,logfile=$run/mount-$ENGINE.log"; }
unmount_it() { fusermount3 -u "$MNT"; }
api() { "$py" scripts/s3api_check.py "$API" "$REGION" "$BUCKET" "$@"; }
same() { [ "$1" = "$2" ] || { echo "expected [$2], got [$1]"; return 1; }; }

check_small() { cp "$run/small" "$MNT/small" && cmp "$run/small" "$MNT/small"; }
check_multipart() { cp "$run/big" "$MNT/big" && cmp "$run/big" "$MNT/big"; }
check_append() { cat "$run/tail" >>"$MNT/big" && cmp "$run/big+tail" "$MNT/big"; }
check_truncate() { truncate -s 5000 "$MNT/small" && head -c 5000 "$run/small" | cmp - "$MNT/small"; }
check_rename() {
  mkdir -p "$MNT/d/e" && echo x >"$MNT/d/e/f" && mv "$MNT/small" "$MNT/d/small2" && mv "$MNT/d" "$MNT/d2" &&
    [ -f "$MNT/d2/e/f" ] && [ -f "$MNT/d2/small2" ] && [ ! -e "$MNT/d" ] && [ ! -e "$MNT/small" ]
}
check_symlink() { ln -s d2/e/f "$MNT/link" && same "$(readlink "$MNT/link")" d2/e/f && same "$(cat "$MNT/link")" x; }
check_chmod() { chmod 600 "$MNT/d2/e/f" && same "$(stat -c %a "$MNT/d2/e/f")" 600; }
check_remount() {
  unmount_it && mount_it &&
    same "$(stat -c %a "$MNT/d2/e/f")" 600 && same "$(readlink "$MNT/link")" d2/e/f &&
    cmp "$run/big+tail" "$MNT/big" && head -c 5000 "$run/small" | cmp - "$MNT/d2/small2"
}
check_api() {
  same "$(api size big)" "$(stat -c %s "$run/big+tail")" &&
    same "$(api keys | grep -v '/$' | grep -v '\.bucketfs-metadata$' | sort | tr '\n' ' ')" "big d2/e/f d2/small2 link " &&
    same "$(api keys | grep -c '\.bucketfs-metadata$')" 3 &&
    same "$(api uploads)" ""
}
check_rm() {
  # Only the root's metadata record stays (a removed directory's goes with it).
  rm -rf "$MNT/d2" "$MNT/link" "$MNT/big" && same "$(ls -A "$MNT")" "" && same "$(api top)" ".bucketfs-metadata" &&
    same "$(api keys)" ".bucketfs-metadata" &&
    unmount_it && mount_it && same "$(ls -A "$MNT")" ""
}

# functional ENGINE: the whole check against the engine in force (API, REGION, BUCKET, OPTS).
functional() {
  ENGINE=$1
  MNT=$run/mnt-$ENGINE; mkdir -p "$MNT"
  step "$ENGINE" mount mount_it || return
  local c
  for c in small multipart append truncate rename symlink chmod remount api rm; do
    step "$ENGINE" "$c" "check_$c" || break
  done
  mountpoint -q "$MNT" && unmount_it
}

start_seaweedfs() {  # DIR [TLS]
  local d=$run/$1
  if [ -n "${2:-}" ]; then
    SEAWEEDFS_TLS_CERT=$run/tls/server.pem SEAWEEDFS_TLS_KEY=$run/tls/server.key bash scripts/seaweedfs.sh start "$d" >>"$run/log" 2>&1
  else
    bash scripts/seaweedfs.sh start "$d" >>"$run/log" 2>&1
  fi
}
seaweed_env() {
  export AWS_ACCESS_KEY_ID=${SEAWEEDFS_ACCESS_KEY:-bucketfs-test} AWS_SECRET_ACCESS_KEY=${SEAWEEDFS_SECRET_KEY:-bucketfs-test-secret}
  REGION=us-east-1
}
make_bucket() { "$bin" bucket create "$BUCKET" --url "$API" --region "$REGION" >>"$run/log" 2>&1; }

versions=()
has() { case " $engines " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
weed_version=$("$venv/bin/weed" version 2>/dev/null | awk 'NR==1 {print $3}')

if has seaweedfs || has v1only || has https; then
  if start_seaweedfs seaweedfs; then
    seaweed_env
    API=http://127.0.0.1:$(cat "$run/seaweedfs/s3port")
    if has seaweedfs; then
      BUCKET=compat-seaweedfs; make_bucket; OPTS="url=$API"
      functional seaweedfs
      rows+=("| SeaweedFS (weed mini) | $weed_version | SigV4 | path | $(tail_result seaweedfs) |")
    fi
    if has v1only; then
      # A proxy that refuses ListObjectsV2 (501 NotImplemented), in front of the same server.
      "$py" scripts/v1only_proxy.py "$(cat "$run/seaweedfs/s3port")" >"$run/v1port" 2>>"$run/log" &
      pids+=($!)
      for _ in $(seq 1 50); do [ -s "$run/v1port" ] && break; sleep 0.1; done
      BUCKET=compat-v1only; make_bucket; OPTS="url=http://127.0.0.1:$(cat "$run/v1port"),dbglevel=info"
      functional v1only
      step v1only "fell back to V1" grep -q "using ListObjects (V1)" "$run/mount-v1only.log"
      rows+=("| S3 without ListObjectsV2 (SeaweedFS behind a proxy that refuses it) | $weed_version | SigV4 | path | $(tail_result v1only) |")
    fi
  else
    result seaweedfs start FAIL "$(tail -3 "$run/log" | tr '\n' ' ')"
  fi
fi

if has https; then
  mkdir -p "$run/tls"
  (cd "$run/tls" &&
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=bucketfs compat CA" &&
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost" &&
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >ext.cnf &&
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext.cnf) >>"$run/log" 2>&1
  if start_seaweedfs seaweedfs-tls tls; then
    seaweed_env
    API=http://127.0.0.1:$(cat "$run/seaweedfs-tls/s3port")
    https=https://127.0.0.1:$(cat "$run/seaweedfs-tls/s3httpsport")
    BUCKET=compat-https; make_bucket
    OPTS="url=$https,ca_bundle=$run/tls/ca.pem"
    functional https
    # The same mount with the CA from AWS_CA_BUNDLE instead of an option.
    ENGINE=https-env; MNT=$run/mnt-https-env; mkdir -p "$MNT"; OPTS="url=$https"
    env_ca() {
      AWS_CA_BUNDLE=$run/tls/ca.pem "$bin" "$BUCKET" "$MNT" -o "url=$https,logfile=$run/mount-https-env.log" &&
        ls "$MNT" >/dev/null && unmount_it
    }
    step https "AWS_CA_BUNDLE" env_ca
    # Without the CA: refused at once, one sentence, exit code 5, no retries, no library dump.
    refused() {
      local out rc t0=$SECONDS
      out=$("$bin" "$BUCKET" "$run/mnt-https-env" -o "url=$https" 2>&1); rc=$?
      echo "exit $rc after $((SECONDS - t0)) s: $out"
      [ "$rc" = 5 ] && [ $((SECONDS - t0)) -lt 5 ] && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] &&
        printf '%s' "$out" | grep -q "certificate is not trusted" &&
        ! printf '%s' "$out" | grep -qiE "boringssl|checkouts|handshakeFailed"
    }
    step https "untrusted CA refused" refused
    insecure() {
      ENGINE=https-insecure; MNT=$run/mnt-https-env; OPTS="url=$https,no_check_certificate"
      mount_it && ls "$MNT" >/dev/null && unmount_it && grep -q "no_check_certificate: the certificate of" "$run/mount-https-insecure.log"
    }
    step https "no_check_certificate" insecure
    rows+=("| SeaweedFS over HTTPS, private CA (\`ca_bundle=\`, \`AWS_CA_BUNDLE\`; refused without; \`no_check_certificate\`) | $weed_version | SigV4 | path | $(tail_result https) |")
  else
    result https start FAIL "$(tail -3 "$run/log" | tr '\n' ' ')"
  fi
fi

if has moto; then
  port=$(free_port)
  "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$run/moto.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
  export AWS_ACCESS_KEY_ID=compat AWS_SECRET_ACCESS_KEY=compat-secret
  API=http://127.0.0.1:$port; REGION=us-east-1; BUCKET=compat-moto; make_bucket; OPTS="url=$API"
  functional moto
  moto_version=$("$py" -c 'import moto; print(moto.__version__)' 2>/dev/null)
  rows+=("| moto server | $moto_version | SigV4 | path | $(tail_result moto) |")
fi

if (has swift || has vhost) && [ -f "$swift_script" ]; then
  port=$(free_port); mport=$(free_port)
  base=$(python3 -c 'import random; print(random.randrange(40000, 49000, 10))')
  mkdir -p "$run/swift"
  if SWIFT_S3_PORT=$port SWIFT_S3_BACKEND_PORT_BASE=$base SWIFT_S3_MEMCACHE_PORT=$mport SWIFT_S3_LOG_LEVEL=WARNING \
     SWIFT_S3_STORAGE_DOMAIN=localhost bash "$swift_script" start "$run/swift" >>"$run/log" 2>&1; then
    export AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing
    API=http://127.0.0.1:$port; REGION=KR1
    swift_version=$(/usr/bin/python3 -c 'import swift; print(swift.__version__)' 2>/dev/null)
    if has swift; then
      BUCKET=compat-swift-v4; make_bucket; OPTS="url=$API,region=KR1"
      functional swift-sigv4
      rows+=("| OpenStack Swift s3api | $swift_version | SigV4 \`KR1\` | path | $(tail_result swift-sigv4) |")
      BUCKET=compat-swift-preset; make_bucket; OPTS="url=$API,preset=kr1"
      functional swift-preset-kr1
      rows+=("| OpenStack Swift s3api, \`preset=kr1\` | $swift_version | SigV4 \`KR1\` | path | $(tail_result swift-preset-kr1) |")
      BUCKET=compat-swift-v2; make_bucket; OPTS="url=$API,sigv2"
      functional swift-sigv2
      rows+=("| OpenStack Swift s3api | $swift_version | SigV2 | path | $(tail_result swift-sigv2) |")
    fi
    if has vhost; then
      # BUCKET.localhost resolves to 127.0.0.1 inside a private mount namespace only, where
      # /etc/hosts is replaced by a bind mount: the machine's own file is left alone.
      BUCKET=compat-swift-vhost; make_bucket
      printf '127.0.0.1 localhost %s.localhost\n' "$BUCKET" >"$run/hosts"
      OPTS="url=http://localhost:$port,region=KR1,virtual_hosted"
      vh=$(unshare -m --propagation private bash -c "
        mount --bind '$run/hosts' /etc/hosts || exit 1
        $(declare -f step result mount_it unmount_it api same functional $(declare -F | awk '$3 ~ /^check_/ {print $3}'))
        $(declare -p bin run py API REGION BUCKET OPTS engine_failed)
        passed=0; failed=0
        functional swift-vhost
        echo \"counts \$passed \$failed\"
      " 2>&1)
      printf '%s\n' "$vh" | grep -v '^counts '
      read -r _ p f <<<"$(printf '%s\n' "$vh" | grep '^counts ' || echo "counts 0 1")"
      passed=$((passed + p)); failed=$((failed + f))
      [ "$f" = 0 ] && [ "$p" -gt 0 ] && vr=pass || vr=FAIL
      rows+=("| OpenStack Swift s3api, virtual-hosted (\`storage_domain\`) | $swift_version | SigV4 \`KR1\` | virtual-hosted | $vr |")
    fi
  else
    result swift start FAIL "$(tail -3 "$run/log" | tr '\n' ' ')"
  fi
elif has swift || has vhost; then
  # As scripts/test.sh: Swift runs when its backend script is beside the project (it is on CI).
  # A clone elsewhere, without it, skips the Swift rows and says so; SWIFT_S3API_REQUIRED=1
  # makes that a failure.
  if [ "${SWIFT_S3API_REQUIRED:-}" = 1 ]; then
    result swift start FAIL "$swift_script not found"
  else
    echo "compat: skipping OpenStack Swift s3api: $swift_script not found (set SWIFT_S3API_SCRIPT)"
    rows+=("| OpenStack Swift s3api | - | - | - | skipped: backend script not found |")
  fi
fi

echo
echo "| engine | version | signature | addressing | result |"
echo "| --- | --- | --- | --- | --- |"
printf '%s\n' "${rows[@]}"
echo
echo "compat: $passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
