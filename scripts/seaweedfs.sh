#!/usr/bin/env bash
# A loopback SeaweedFS S3 server for tests and the demo.
#   scripts/seaweedfs.sh start [DATA_DIR]   start `weed mini` on free ports (or SEAWEEDFS_S3_PORT)
#   scripts/seaweedfs.sh stop  [DATA_DIR]   stop it (only the PID recorded in DATA_DIR)
#   scripts/seaweedfs.sh env   [DATA_DIR]   print AWS_* variables for it
# With SEAWEEDFS_TLS_CERT and SEAWEEDFS_TLS_KEY (PEM files), S3 is served over HTTPS too, on
# the port written to DATA_DIR/s3httpsport. Telemetry is off: nothing leaves the machine.
# Keys: SEAWEEDFS_ACCESS_KEY / SEAWEEDFS_SECRET_KEY (default bucketfs-test / bucketfs-test-secret).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:-}
dir=${2:-${SEAWEEDFS_DIR:-$here/.test-data/seaweedfs}}
weed=${WEED:-${BUCKETFS_VENV:-$here/.venv}/bin/weed}
access=${SEAWEEDFS_ACCESS_KEY:-bucketfs-test}
secret=${SEAWEEDFS_SECRET_KEY:-bucketfs-test-secret}

free_ports() { python3 "$here/scripts/free_ports.py" "$1"; }

case "$cmd" in
start)
  mkdir -p "$dir/data"
  if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
    echo "seaweedfs: already running (pid $(cat "$dir/pid"), S3 port $(cat "$dir/s3port"))"; exit 0
  fi
  [ -x "$weed" ] || { echo "seaweedfs: $weed not found; run scripts/setup.sh" >&2; exit 1; }
  read -r p_master p_volume p_filer p_s3 p_admin p_webdav p_ice p_lance p_debug p_metrics p_https <<<"$(free_ports 11)"
  if [ -n "${SEAWEEDFS_S3_PORT:-}" ]; then p_s3=$SEAWEEDFS_S3_PORT; fi
  echo "$p_s3" >"$dir/s3port"
  tls=()
  if [ -n "${SEAWEEDFS_TLS_CERT:-}" ]; then
    tls=(-s3.cert.file="$SEAWEEDFS_TLS_CERT" -s3.key.file="$SEAWEEDFS_TLS_KEY" -s3.port.https="$p_https")
    echo "$p_https" >"$dir/s3httpsport"
  fi
  # `weed mini` creates the admin identity from these variables. Its logs and local sockets go
  # to the temporary directory: one inside DATA_DIR, so that stop leaves nothing behind.
  mkdir -p "$dir/tmp"
  TMPDIR=$dir/tmp AWS_ACCESS_KEY_ID=$access AWS_SECRET_ACCESS_KEY=$secret nohup "$weed" mini -dir="$dir/data" \
    -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -master.port="$p_master" -volume.port="$p_volume" -filer.port="$p_filer" -s3.port="$p_s3" \
    -admin.port="$p_admin" -webdav.port="$p_webdav" -s3.port.iceberg="$p_ice" -s3.port.lance="$p_lance" \
    -debug.port="$p_debug" -metricsPort="$p_metrics" -admin.ui=false -master.telemetry=false "${tls[@]}" \
    -filer.localSocket="$dir/tmp/filer.sock" -s3.localSocket="$dir/tmp/s3.sock" \
    ${SEAWEEDFS_BUCKET:+-bucket="$SEAWEEDFS_BUCKET"} >"$dir/weed.log" 2>&1 &
  echo $! >"$dir/pid"
  # Ready when a signed ListBuckets answers 200.
  for _ in $(seq 1 120); do
    if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
      echo "seaweedfs: exited during start; log tail:" >&2; tail -20 "$dir/weed.log" >&2; exit 1
    fi
    if AWS_ACCESS_KEY_ID=$access AWS_SECRET_ACCESS_KEY=$secret AWS_DEFAULT_REGION=us-east-1 \
       python3 - "$p_s3" <<'PY' 2>/dev/null
import sys, urllib.request, datetime, hashlib, hmac, os
port = sys.argv[1]; host = f"127.0.0.1:{port}"
t = datetime.datetime.now(datetime.UTC); amz = t.strftime("%Y%m%dT%H%M%SZ"); day = amz[:8]
h = hashlib.sha256(b"").hexdigest()
creq = f"GET\n/\n\nhost:{host}\nx-amz-content-sha256:{h}\nx-amz-date:{amz}\n\nhost;x-amz-content-sha256;x-amz-date\n{h}"
scope = f"{day}/us-east-1/s3/aws4_request"
sts = f"AWS4-HMAC-SHA256\n{amz}\n{scope}\n{hashlib.sha256(creq.encode()).hexdigest()}"
k = ("AWS4" + os.environ["AWS_SECRET_ACCESS_KEY"]).encode()
for part in (day, "us-east-1", "s3", "aws4_request"):
    k = hmac.new(k, part.encode(), hashlib.sha256).digest()
sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
auth = f"AWS4-HMAC-SHA256 Credential={os.environ['AWS_ACCESS_KEY_ID']}/{scope}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={sig}"
req = urllib.request.Request(f"http://{host}/", headers={"x-amz-date": amz, "x-amz-content-sha256": h, "Authorization": auth})
sys.exit(0 if urllib.request.urlopen(req, timeout=2).status == 200 else 1)
PY
    then
      echo "seaweedfs: S3 on http://127.0.0.1:$p_s3 (pid $(cat "$dir/pid"), data $dir)"; exit 0
    fi
    sleep 0.5
  done
  echo "seaweedfs: S3 not ready after 60 s; log tail:" >&2; tail -20 "$dir/weed.log" >&2
  "$0" stop "$dir" || true
  exit 1
  ;;
stop)
  if [ -f "$dir/pid" ]; then
    pid=$(cat "$dir/pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/pid"
  fi
  ;;
env)
  [ -f "$dir/s3port" ] || { echo "seaweedfs: not started in $dir" >&2; exit 1; }
  echo "export AWS_ACCESS_KEY_ID=$access"
  echo "export AWS_SECRET_ACCESS_KEY=$secret"
  echo "export AWS_DEFAULT_REGION=us-east-1"
  echo "export AWS_ENDPOINT_URL=http://127.0.0.1:$(cat "$dir/s3port")"
  ;;
*)
  echo "usage: $0 start|stop|env [DATA_DIR]" >&2; exit 2 ;;
esac
