#!/usr/bin/env bash
# Builds the Dockerfile for real, without a Docker engine, and runs the built binary from the
# image.
#
#   tests/k8s/build_image.sh SOURCE_DIR WORK_DIR
#
# 1. debootstraps a minbase Debian bookworm root filesystem (cached in WORK_DIR for a week);
# 2. imports it with buildah as debian:bookworm and debian:bookworm-slim, the Dockerfile's bases;
# 3. `buildah bud --isolation chroot --pull=never` builds the Dockerfile (its build stage compiles
#    ringproxy as users do, a Release build, and runs the unit tests; its RUN apt-get steps reach
#    Debian's registry);
# 4. runs the image's binary as the image's user: --version, and -t on the shipped configuration
#    with a placeholder in each password file it names, mounted where the Secrets go; checks the
#    image's user, ports and entrypoint.
#
# buildah keeps its images and layer cache under WORK_DIR (not the machine's global store), so a
# second run reuses the base image and every unchanged layer. Needs root (debootstrap, chroot).
set -euo pipefail

source_dir=$(cd "${1:?usage: build_image.sh SOURCE_DIR WORK_DIR}" && pwd)
work_dir=${2:?usage: build_image.sh SOURCE_DIR WORK_DIR}
mkdir -p "$work_dir"
work_dir=$(cd "$work_dir" && pwd)

image=localhost/ringproxy:ci
rootfs_tar=$work_dir/bookworm-minbase.tar
# overlay shares layers between steps; vfs (a full copy per step) is the fallback without it.
driver=vfs
grep -qw overlay /proc/filesystems && driver=overlay
storage=(--root "$work_dir/storage" --runroot "$work_dir/run" --storage-driver "$driver")
started=$SECONDS

phase() { echo "== [$((SECONDS - started))s] $*"; }
fail() { echo "build_image: $*" >&2; exit 1; }

for tool in buildah debootstrap; do
  command -v "$tool" >/dev/null || fail "$tool is missing: run .ci/install-deps as root"
done
[ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap and chroot isolation)"

# The machine's own Debian mirror, as apt is configured here: no host is named in this script.
debian_mirror() {
  local uri=""
  if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    uri=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$uri" ] && [ -r /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list)
  fi
  [ -n "$uri" ] || fail "no Debian mirror found in /etc/apt/sources.list{,.d/debian.sources}"
  echo "$uri"
}

if [ -z "$(find "$rootfs_tar" -mtime -7 2>/dev/null)" ]; then
  phase "debootstrap --variant=minbase bookworm"
  rootfs=$work_dir/rootfs
  rm -rf "$rootfs" "$rootfs_tar"
  debootstrap --variant=minbase bookworm "$rootfs" "$(debian_mirror)" >"$work_dir/debootstrap.log" \
    2>&1 || { tail -20 "$work_dir/debootstrap.log" >&2; fail "debootstrap failed"; }
  # The image's apt uses the machine's sources (security updates included), not only the
  # single suite debootstrap wrote.
  if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    cp /etc/apt/sources.list.d/debian.sources "$rootfs/etc/apt/sources.list.d/"
    rm -f "$rootfs/etc/apt/sources.list"
  fi
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -cf "$rootfs_tar.tmp" . && mv "$rootfs_tar.tmp" "$rootfs_tar"
  rm -rf "$rootfs"
  buildah "${storage[@]}" rmi -f docker.io/library/debian:bookworm >/dev/null 2>&1 || true
fi

if ! buildah "${storage[@]}" inspect --type image docker.io/library/debian:bookworm \
  >/dev/null 2>&1; then
  phase "import the root filesystem as debian:bookworm and debian:bookworm-slim"
  base=$(buildah "${storage[@]}" from scratch)
  buildah "${storage[@]}" add "$base" "$rootfs_tar" / >/dev/null
  buildah "${storage[@]}" config --cmd bash --env LANG=C.UTF-8 "$base"
  buildah "${storage[@]}" commit -q "$base" docker.io/library/debian:bookworm >/dev/null
  buildah "${storage[@]}" rm "$base" >/dev/null
  buildah "${storage[@]}" tag docker.io/library/debian:bookworm \
    docker.io/library/debian:bookworm-slim
fi

phase "buildah bud (build stage: install-deps, build, unit tests; runtime stage)"
buildah "${storage[@]}" bud --isolation chroot --pull=never --layers --force-rm --format docker \
  -f "$source_dir/Dockerfile" -t "$image" "$source_dir" >"$work_dir/bud.log" 2>&1 || {
  tail -60 "$work_dir/bud.log" >&2
  fail "buildah bud failed (full log: $work_dir/bud.log)"
}

phase "check the image's configuration"
inspect=$(buildah "${storage[@]}" inspect --type image "$image")
INSPECT=$inspect /usr/bin/python3 - <<'EOF'
import json, os, sys
config = json.loads(os.environ["INSPECT"])["Docker"]["config"]
problems = []
if config.get("User") != "10001:10001":
    problems.append(f"user is {config.get('User')!r}, expected the non-root 10001:10001")
if set(config.get("ExposedPorts") or {}) != {"22121/tcp", "22222/tcp"}:
    problems.append(f"exposed ports are {sorted(config.get('ExposedPorts') or {})}")
entrypoint = config.get("Entrypoint") or []
expected = ["/usr/local/bin/ringproxy", "-c", "/etc/ringproxy/ringproxy.yml", "-s", "22222",
            "-a", "0.0.0.0"]
if entrypoint != expected:
    problems.append(f"entrypoint is {entrypoint}, expected {expected}")
if not (config.get("Healthcheck") or {}).get("Test"):
    problems.append("no HEALTHCHECK")
if problems:
    sys.exit("image configuration: " + "; ".join(problems))
print("image configuration ok:", config.get("User"), sorted(config["ExposedPorts"]), entrypoint)
EOF

container=$(buildah "${storage[@]}" from --pull=never "$image")
secrets=$(mktemp -d)
trap 'buildah "${storage[@]}" rm "$container" >/dev/null; rm -rf "$secrets"' EXIT
# Every file the shipped configuration reads a password from (the Deployment mounts them from
# Secrets) gets a placeholder, in a directory mounted where the configuration looks for it.
mounts=()
while read -r file; do
  dir=$(dirname "$file")
  mkdir -p "$secrets$dir"
  printf 'placeholder' >"$secrets$file"
  chmod 0644 "$secrets$file"
  mounts+=(-v "$secrets$dir:$dir:ro")
done < <(sed -nE 's/^[[:space:]]*[a-z_]+_file:[[:space:]]*(\/[^[:space:]#]+).*/\1/p' \
  "$source_dir/k8s/base/ringproxy.yml" | sort -u)
[ "${#mounts[@]}" -gt 0 ] || fail "the shipped configuration names no password file"
chmod -R a+rX "$secrets"
run=(buildah "${storage[@]}" run --isolation chroot --user 10001:10001 "$container" --)

phase "ringproxy --version in the image"
version=$("${run[@]}" /usr/local/bin/ringproxy --version 2>&1)
echo "$version"
[[ $version == "This is ringproxy-"* ]] || fail "unexpected --version output: $version"

phase "ringproxy -t on the shipped configuration in the image"
buildah "${storage[@]}" run --isolation chroot --user 10001:10001 \
  "${mounts[@]}" "$container" -- \
  /usr/local/bin/ringproxy -t -c /etc/ringproxy/ringproxy.yml ||
  fail "the shipped configuration fails ringproxy -t inside the image"

phase "done: image $image built and checked"
