#!/usr/bin/env bash
# Builds a local stand-in for the official node:24-bookworm-slim image, for
# Docker hosts that cannot pull images. It is Debian bookworm (minbase, from
# the Debian mirror), this machine's Node 24 binary, pnpm, the host's CA
# bundle, and a `node` user with uid 1000 as in the official image.
#
#   infra/build-base-image.sh [TAG]        (default: stickyring/node-base:24-bookworm)
#
# Then build with: --build-arg NODE_IMAGE=<TAG>, or NODE_IMAGE=<TAG> for compose.
set -euo pipefail

TAG="${1:-stickyring/node-base:24-bookworm}"
PNPM_VERSION="${PNPM_VERSION:-12.4.2}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if docker image inspect "$TAG" >/dev/null 2>&1; then
  echo "base image $TAG already present"
  exit 0
fi

NODE_BIN="$(command -v node)"
case "$("$NODE_BIN" --version)" in
  v24.*) ;;
  *) echo "build-base-image: need Node 24 on PATH, found $("$NODE_BIN" --version) at $NODE_BIN" >&2; exit 2 ;;
esac
command -v debootstrap >/dev/null || { echo "build-base-image: debootstrap is missing (apt-get install debootstrap)" >&2; exit 2; }

ROOT="$(mktemp -d /tmp/stickyring-rootfs.XXXXXX)"
chmod 0755 "$ROOT" # mktemp makes it 0700, which would lock every user but root out of /
trap 'rm -rf "$ROOT"' EXIT

echo "debootstrap bookworm into $ROOT"
debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" >/dev/null
rm -rf "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* "$ROOT"/usr/share/locale/* \
  "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*

install -m 0755 "$NODE_BIN" "$ROOT/usr/local/bin/node"
npm install --global --prefix "$ROOT/usr/local" --no-audit --no-fund "pnpm@$PNPM_VERSION" >/dev/null
mkdir -p "$ROOT/etc/ssl/certs"
cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"

echo "node:x:1000:1000::/home/node:/bin/bash" >>"$ROOT/etc/passwd"
echo "node:x:1000:" >>"$ROOT/etc/group"
echo "node:*:19000:0:99999:7:::" >>"$ROOT/etc/shadow"
mkdir -p "$ROOT/home/node"
chown 1000:1000 "$ROOT/home/node"

tar -C "$ROOT" -c . | docker import \
  --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  --change 'CMD ["node"]' \
  - "$TAG" >/dev/null
echo "built base image $TAG"
