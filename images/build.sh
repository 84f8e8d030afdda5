#!/usr/bin/env bash
# Builds every image Ironworks needs without any container registry:
#   ironworks/base          Debian rootfs from debootstrap, `docker import`ed
#   ironworks/stack-sh      busybox-static and curl (with its libraries) on an empty image
#   ironworks/stack-python  base + Debian's python3; likewise stack-node and stack-ruby
#   ironworks/platform      base + Debian's python3 + this project's wheel and its dependencies
# Each step is keyed by content: the base is tagged with a hash of its inputs and skipped
# when that tag exists; the stacks use the engine's build cache, so a second run is a no-op.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export DOCKER_BUILDKIT=0  # BuildKit (buildx) is not packaged here; the classic builder caches too.

debian_suite() { . /etc/os-release && echo "${VERSION_CODENAME:-bookworm}"; }

# The mirror the host's apt already uses: the only registry we may reach.
debian_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local uri
  uri=$(grep -hm1 '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | head -1)
  [ -n "$uri" ] || uri=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  [ -n "$uri" ] || { echo "no Debian mirror found in apt sources; set DEBIAN_MIRROR" >&2; exit 1; }
  echo "$uri"
}

build_base() {
  local suite mirror key tag rootfs
  suite=$(debian_suite); mirror=$(debian_mirror)
  key=$(printf '%s\n%s\n%s' "$suite" "$mirror" "$(declare -f build_base)" | sha256sum | cut -c1-16)
  tag="ironworks/base:$key"
  if docker image inspect "$tag" >/dev/null 2>&1; then
    echo "base: $tag is up to date"
  else
    command -v debootstrap >/dev/null || { echo "debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
    rootfs=$(mktemp -d)
    trap 'rm -rf "$rootfs"' RETURN
    echo "base: debootstrap $suite from the host's mirror (about a minute)"
    debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
      || { tail -20 "$rootfs.log" >&2; exit 1; }
    rm -f "$rootfs.log"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | docker import --change 'CMD ["/bin/sh"]' - "$tag" >/dev/null
  fi
  docker tag "$tag" ironworks/base:latest
}

# Debian packages per Debian-based stack.
declare -A PACKAGES=([python]=python3 [node]=nodejs [ruby]=ruby)

build_stack() {
  local name=$1 context args=()
  context=$(mktemp -d)
  if [ "$name" = sh ]; then
    cp -a "$here/sh/." "$context/"
    # busybox-static's binary: it needs no libc; curl comes with its own (images/sh/Dockerfile).
    dpkg -s busybox-static >/dev/null 2>&1 \
      || { echo "busybox-static is missing (apt-get install busybox-static)" >&2; exit 1; }
    cp /bin/busybox "$context/busybox"
  else
    cp -a "$here/debian/." "$context/"
    args=(--build-arg "PACKAGES=${PACKAGES[$name]}")
    # The python stack carries the SDK's in-task side (stdlib only): `from ironworks import task`.
    mkdir -p "$context/sdk"
    if [ "$name" = python ]; then
      mkdir "$context/sdk/ironworks"
      printf '"""Ironworks SDK, in-task side only (the stack image'"'"'s copy)."""\n' \
        > "$context/sdk/ironworks/__init__.py"
      cp "$here/../ironworks/task.py" "$context/sdk/ironworks/task.py"
    fi
  fi
  cp "$here/warm-entry.sh" "$context/ironworks-warm"
  docker build -q "${args[@]}" -t "ironworks/stack-$name:latest" "$context" >"$context.log" 2>&1 \
    || { cat "$context.log" >&2; exit 1; }
  rm -rf "$context" "$context.log"
  echo "stack-$name: built"
}

# Keyed by the project's own files: unchanged sources skip the wheel build entirely.
build_platform() {
  local root key tag context
  root=$(cd "$here/.." && pwd)
  key=$(cd "$root" && git ls-files -z pyproject.toml README.md ironworks api scheduler runner \
          images/platform | xargs -0 sha256sum | sha256sum | cut -c1-16)
  tag="ironworks/platform:$key"
  if docker image inspect "$tag" >/dev/null 2>&1; then
    echo "platform: $tag is up to date"
  else
    context=$(mktemp -d)
    trap 'rm -rf "$context"' RETURN
    cp -a "$here/platform/." "$context/"
    # Wheels for the project and every dependency, fetched the way the host's pip is set up;
    # async-timeout is what redis needs on Debian's Python 3.11.2 (the host's may be newer).
    "${PYTHON:-python3}" -m pip wheel -q --wheel-dir "$context/wheels" "$root" \
      "async-timeout>=4.0.3" >"$context.log" 2>&1 \
      || { cat "$context.log" >&2; exit 1; }
    rm -rf "$root/build"  # setuptools' leftovers in the source tree
    docker build -q -t "$tag" "$context" >"$context.log" 2>&1 || { cat "$context.log" >&2; exit 1; }
    rm -f "$context.log"
    echo "platform: built $tag"
  fi
  docker tag "$tag" ironworks/platform:latest
  # Earlier builds are only kept while something still uses them.
  docker images ironworks/platform --format '{{.Tag}}' | grep -vx -e latest -e "$key" \
    | sed 's|^|ironworks/platform:|' | xargs -r docker rmi >/dev/null 2>&1 || true
}

build_base
# The rest only need the base: built side by side (mostly waiting on Debian's mirror, they took
# about 5 minutes one after another on a fresh machine). A failed build fails the script.
builds=()
for stack in sh "${!PACKAGES[@]}"; do build_stack "$stack" & builds+=($!); done
build_platform & builds+=($!)
for build in "${builds[@]}"; do wait "$build"; done
