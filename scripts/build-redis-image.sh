#!/usr/bin/env bash
# Builds the local Redis image the end-to-end test runs, without pulling anything: a minimal
# root filesystem with Debian's redis-server and redis-cli, their shared libraries, a POSIX
# shell and the usual Debian base tools (like the official image's Debian base), loaded with
# `docker import`. `redis-server` and `redis-cli` are on PATH, the working directory is /data.
# Like the official image (docker-library/redis 5.0: Dockerfile + docker-entrypoint.sh): a
# `redis` user (uid/gid 999), /data owned by it and declared a VOLUME, and an entrypoint that,
# for `redis-server` started as root, hands /data to `redis` and drops to that user (setpriv
# from Debian's util-linux stands in for gosu), so file modes and ownership matter here too.
#
# Usage: scripts/build-redis-image.sh [TAG]
#   TAG defaults to `redis-on-docker:image` in Pulumi.ci.yaml (e.g. redis-local:7.0.15); its
#   version part must match the host's redis-server. An existing image built from the same
#   binaries and the same script is kept (images are a cache); otherwise it is rebuilt.
set -euo pipefail
exec </dev/null
cd "$(dirname "$0")/.."

say() { echo "build-redis-image: $*" >&2; }
fail() { say "$*"; exit 1; }

TAG="${1:-$(sed -n 's/^[[:space:]]*redis-on-docker:image:[[:space:]]*"\{0,1\}\([^"[:space:]]*\)"\{0,1\}[[:space:]]*$/\1/p' Pulumi.ci.yaml)}"
[ -n "$TAG" ] || fail "no tag given and no redis-on-docker:image in Pulumi.ci.yaml"

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  say "redis-server/redis-cli missing: installing Debian's redis-server and redis-tools"
  export DEBIAN_FRONTEND=noninteractive
  timeout 300 apt-get update -qq
  timeout 600 apt-get install -y -qq redis-server redis-tools >/dev/null
fi
command -v docker >/dev/null 2>&1 || fail "docker CLI missing (run scripts/ensure-docker.sh first)"
timeout 10 docker info >/dev/null 2>&1 || fail "the Docker engine does not answer (run scripts/ensure-docker.sh first)"

# The image says which Redis it holds: refuse a tag that would lie about the version.
host_version="$(redis-server --version | sed -n 's/.* v=\([0-9.]*\).*/\1/p')"
tag_version="${TAG##*:}"
if [ "$tag_version" != "$host_version" ]; then
  fail "tag $TAG names version $tag_version but this machine's redis-server is $host_version; update redis-on-docker:image in Pulumi.ci.yaml"
fi

# redis-server is a symlink to redis-check-rdb in Debian; the binary picks its mode from argv[0].
server_bin="$(readlink -f "$(command -v redis-server)")"
cli_bin="$(readlink -f "$(command -v redis-cli)")"
fingerprint="$(cat "$server_bin" "$cli_bin" "$0" | sha256sum | cut -c1-64)"
LABEL_KEY="org.redis-on-docker.build-fingerprint"

existing="$(timeout 20 docker image inspect --format "{{ index .Config.Labels \"$LABEL_KEY\" }}" "$TAG" 2>/dev/null || true)"
if [ "$existing" = "$fingerprint" ]; then
  say "$TAG is up to date (kept as a cache)"
  exit 0
fi

BUILD_DIR="$(mktemp -d /tmp/redis-image-build.XXXXXX)"
# The build directory goes away whatever happens, including interruption.
trap 'rm -rf "$BUILD_DIR"' EXIT
trap 'exit 130' INT TERM
ROOT="$BUILD_DIR/rootfs"

# Merged-/usr layout as in Debian bookworm.
mkdir -p "$ROOT"/usr/{bin,sbin,lib,lib64} "$ROOT"/usr/local/{bin,etc/redis} \
  "$ROOT"/{etc,data,tmp,root,run/secrets,proc,sys,dev,var/tmp}
ln -s usr/bin "$ROOT/bin"
ln -s usr/sbin "$ROOT/sbin"
ln -s usr/lib "$ROOT/lib"
ln -s usr/lib64 "$ROOT/lib64"
chmod 1777 "$ROOT/tmp" "$ROOT/var/tmp"

copy_with_libs() { # <source binary> <path in image>
  local src="$1" dest="$2" lib
  install -D -m 0755 "$src" "$ROOT$dest"
  # `ldd` lines: "name => /path (addr)" or "/lib64/ld-linux... (addr)"; copy the real files
  # under the names the loader asks for.
  for lib in $(ldd "$src" | grep -o '/[^ ]*' || true); do
    [ -e "$ROOT$lib" ] && continue
    mkdir -p "$ROOT$(dirname "$lib")"
    cp -L "$lib" "$ROOT$lib"
  done
}

copy_with_libs "$server_bin" /usr/bin/redis-server
copy_with_libs "$cli_bin" /usr/bin/redis-cli

# A POSIX shell and the tools a bootstrap or healthcheck script may use; all from Debian's
# base (dash as /bin/sh, coreutils, grep, sed, mawk, findutils), as in Debian-based images.
tools=(dash bash cat sleep grep date tr cut sed awk head tail wc expr seq timeout env id ls rm
  mkdir cp mv chmod touch sort uniq tee true false basename dirname printf echo test
  hostname find xargs kill chown setpriv stat)
for tool in "${tools[@]}"; do
  path="$(type -P "$tool" || true)"
  case "$path" in
    /*) copy_with_libs "$(readlink -f "$path")" "/usr/bin/$tool" ;;
    *) fail "tool $tool not found on this machine" ;;
  esac
done
ln -s dash "$ROOT/usr/bin/sh"
ln -s test "$ROOT/usr/bin/["

cat >"$ROOT/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
redis:x:999:999::/data:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
cat >"$ROOT/etc/group" <<'EOF'
root:x:0:
redis:x:999:
nogroup:x:65534:
EOF
echo "hosts: files dns" >"$ROOT/etc/nsswitch.conf"

# The official 5.0 entrypoint's behaviour, with setpriv in place of gosu.
cat >"$ROOT/usr/local/bin/docker-entrypoint.sh" <<'ENTRYPOINT'
#!/bin/sh
set -e

# first arg is `-f` or `--some-option`, or `something.conf`: run redis-server with it
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
	set -- redis-server "$@"
fi

# started as root: hand the working directory (/data) to redis, then drop to that user
if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
	find . \! -user redis -exec chown redis '{}' +
	exec setpriv --reuid=redis --regid=redis --clear-groups "$0" "$@"
fi

exec "$@"
ENTRYPOINT
chmod 0755 "$ROOT/usr/local/bin/docker-entrypoint.sh"

say "importing $TAG (redis $host_version, $(du -sh "$ROOT" | cut -f1))"
# Everything owned by root, except /data: redis's (as `mkdir /data && chown redis:redis /data`).
tar -C "$ROOT" --numeric-owner --owner=0 --group=0 --exclude=./data -cf "$BUILD_DIR/rootfs.tar" .
tar -C "$ROOT" --numeric-owner --owner=999 --group=999 --no-recursion -rf "$BUILD_DIR/rootfs.tar" ./data
timeout 300 docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'VOLUME /data' \
  --change 'WORKDIR /data' \
  --change 'EXPOSE 6379' \
  --change "LABEL $LABEL_KEY=$fingerprint" \
  --change 'ENTRYPOINT ["docker-entrypoint.sh"]' \
  --change 'CMD ["redis-server"]' \
  "$BUILD_DIR/rootfs.tar" "$TAG" >/dev/null

# The image must run what it promises before anyone relies on it; a broken one is not kept
# (its fingerprint label would make it look up to date).
broken() { timeout 60 docker image rm -f "$TAG" >/dev/null 2>&1 || true; fail "$@"; }
smoke="$(timeout 60 docker run --rm --network none "$TAG" sh -c 'redis-server --version && redis-cli --version && date +%s >/dev/null && echo ok' 2>&1)" ||
  broken "the built image $TAG does not run: $smoke"
case "$smoke" in *ok) ;; *) broken "the built image $TAG does not run: $smoke" ;; esac
# /data belongs to redis, and redis-server started through the entrypoint runs as redis.
# shellcheck disable=SC2016 # the $ in this script are the container's to expand
owner="$(timeout 60 docker run --rm --network none "$TAG" sh -c '
  stat -c %u:%g /data
  docker-entrypoint.sh redis-server --save "" & pid=$!
  for _ in 1 2 3 4 5 6 7 8 9 10; do [ "$(stat -c %u /proc/$pid)" = 999 ] && break; sleep 0.5; done
  echo "uid=$(stat -c %u /proc/$pid)"; kill $pid' 2>&1)" ||
  broken "the built image $TAG does not run its entrypoint: $owner"
case "$owner" in "999:999"*"uid=999"*) ;; *) broken "in $TAG, /data or redis-server is not the redis user's (999): $owner" ;; esac
say "built $TAG"
