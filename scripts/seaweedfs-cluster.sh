#!/usr/bin/env bash
# A replicated SeaweedFS cluster on loopback, for tests where a storage node dies: one master,
# three volume servers, one filer with the S3 gateway, all from the same `weed` binary, on free
# ports. Every file is stored twice (replication 001: two servers of one rack), so any one
# volume server can die without losing data.
#   scripts/seaweedfs-cluster.sh start DIR         start everything; S3 port in DIR/s3port
#   scripts/seaweedfs-cluster.sh stop DIR          stop everything recorded in DIR
#   scripts/seaweedfs-cluster.sh kill-volume DIR N     SIGKILL volume server N (1-3)
#   scripts/seaweedfs-cluster.sh start-volume DIR N    start volume server N again (same port, same data)
# Keys: SEAWEEDFS_ACCESS_KEY / SEAWEEDFS_SECRET_KEY (default bucketfs-test / bucketfs-test-secret).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:-}
dir=${2:-}
[ -n "$dir" ] || { echo "usage: $0 start|stop|kill-volume|start-volume DIR [N]" >&2; exit 2; }
weed=${WEED:-${BUCKETFS_VENV:-$here/.venv}/bin/weed}
access=${SEAWEEDFS_ACCESS_KEY:-bucketfs-test}
secret=${SEAWEEDFS_SECRET_KEY:-bucketfs-test-secret}

free_ports() { python3 "$here/scripts/free_ports.py" "$1"; }

wait_port() {  # PORT NAME
  for _ in $(seq 1 120); do
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $1), 0.5)" 2>/dev/null && return 0
    sleep 0.25
  done
  echo "seaweedfs-cluster: $2 did not listen on port $1; log tail:" >&2
  tail -20 "$dir/$2.log" >&2
  return 1
}

start_volume() {  # N
  local n=$1 port
  port=$(cat "$dir/volume$n.port")
  mkdir -p "$dir/volume$n"
  TMPDIR=$dir/tmp nohup "$weed" volume -ip=127.0.0.1 -ip.bind=127.0.0.1 -port="$port" -dir="$dir/volume$n" \
    -master="127.0.0.1:$(cat "$dir/master.port")" -max=30 -dataCenter=dc1 -rack=rack1 \
    >"$dir/volume$n.log" 2>&1 &
  echo $! >"$dir/volume$n.pid"
  wait_port "$port" "volume$n"
}

stop_pid() {  # NAME [SIGNAL]
  local f=$dir/$1.pid pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill "-${2:-TERM}" "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

case "$cmd" in
start)
  mkdir -p "$dir/tmp" "$dir/master" "$dir/filer"
  [ -x "$weed" ] || { echo "seaweedfs-cluster: $weed not found; run scripts/setup.sh" >&2; exit 1; }
  read -r p_master p_v1 p_v2 p_v3 p_filer p_s3 <<<"$(free_ports 6)"
  echo "$p_master" >"$dir/master.port"
  echo "$p_v1" >"$dir/volume1.port"; echo "$p_v2" >"$dir/volume2.port"; echo "$p_v3" >"$dir/volume3.port"
  echo "$p_s3" >"$dir/s3port"
  cat >"$dir/s3.json" <<JSON
{"identities": [{"name": "admin", "credentials": [{"accessKey": "$access", "secretKey": "$secret"}],
  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
JSON
  chmod 600 "$dir/s3.json"
  TMPDIR=$dir/tmp nohup "$weed" master -ip=127.0.0.1 -ip.bind=127.0.0.1 -port="$p_master" -mdir="$dir/master" \
    -defaultReplication=001 -volumeSizeLimitMB=256 -telemetry=false -peers=none >"$dir/master.log" 2>&1 &
  echo $! >"$dir/master.pid"
  wait_port "$p_master" master
  for n in 1 2 3; do start_volume "$n"; done
  TMPDIR=$dir/tmp nohup "$weed" filer -ip=127.0.0.1 -ip.bind=127.0.0.1 -port="$p_filer" -master="127.0.0.1:$p_master" \
    -defaultStoreDir="$dir/filer" -localSocket="$dir/tmp/filer.sock" \
    -s3 -s3.port="$p_s3" -s3.config="$dir/s3.json" -s3.localSocket="$dir/tmp/s3.sock" -s3.port.iceberg=0 -s3.port.lance=0 \
    >"$dir/filer.log" 2>&1 &
  echo $! >"$dir/filer.pid"
  wait_port "$p_filer" filer
  wait_port "$p_s3" filer
  # Ready when all three volume servers have registered with the master.
  for _ in $(seq 1 120); do
    n=$(curl -s "http://127.0.0.1:$p_master/dir/status" | python3 -c 'import json,sys
t = json.load(sys.stdin).get("Topology", {})
print(sum(len(r.get("DataNodes") or []) for dc in t.get("DataCenters") or [] for r in dc.get("Racks") or []))' 2>/dev/null || echo 0)
    [ "$n" = 3 ] && { echo "seaweedfs-cluster: S3 on http://127.0.0.1:$p_s3 (master $p_master, volumes $p_v1 $p_v2 $p_v3, replication 001)"; exit 0; }
    sleep 0.25
  done
  echo "seaweedfs-cluster: volume servers did not register; master log tail:" >&2
  tail -20 "$dir/master.log" >&2
  "$0" stop "$dir" || true
  exit 1
  ;;
stop)
  stop_pid filer; for n in 1 2 3; do stop_pid "volume$n"; done; stop_pid master
  ;;
kill-volume)
  stop_pid "volume${3:?volume number}" KILL
  ;;
start-volume)
  start_volume "${3:?volume number}"
  ;;
*)
  echo "usage: $0 start|stop|kill-volume|start-volume DIR [N]" >&2; exit 2 ;;
esac
