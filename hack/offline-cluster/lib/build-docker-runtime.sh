#!/usr/bin/env bash
# Docker's default runtime on hosts whose root lacks capabilities (these machines: no CAP_SYS_RESOURCE): Docker
# 20.10 hands a --privileged container every capability the kernel knows, so runc refuses to start kind's and
# minikube's node containers ("unable to apply caps: operation not permitted"). lib/runc-bounded drops from each
# container spec what the host cannot grant and runs the real runc; this step installs it and makes it dockerd's
# default runtime (/etc/docker/daemon.json, applied with SIGHUP: running containers are untouched). On a host that
# grants every capability it does nothing. Sourced by build.sh as an early step (before any image step runs a
# container); needs common.sh and runtime.sh.
set -euo pipefail

DOCKER_RUNTIME_NAME=runc-bounded
DOCKER_RUNTIME_BIN=/usr/local/libexec/resiliency-lab/runc-bounded
DOCKER_DAEMON_JSON=${DOCKER_DAEMON_JSON:-/etc/docker/daemon.json}

# True when a capability up to the kernel's last one is missing from this process's bounding set.
docker_runtime_needed() {
  local bnd last
  bnd=$((16#$(awk '/^CapBnd:/ {print $2}' /proc/self/status)))
  last=$(cat /proc/sys/kernel/cap_last_cap)
  ((bnd != (1 << (last + 1)) - 1))
}

# Merge our runtime into daemon.json as the default; prints "changed" when the file was rewritten.
docker_runtime_configure() {
  mkdir -p "$(dirname "${DOCKER_DAEMON_JSON}")"
  python3 - "${DOCKER_DAEMON_JSON}" "${DOCKER_RUNTIME_NAME}" "${DOCKER_RUNTIME_BIN}" <<'PY'
import json, os, sys
path, name, binary = sys.argv[1:]
config = json.load(open(path)) if os.path.exists(path) else {}
wanted = {**config, "runtimes": {**config.get("runtimes", {}), name: {"path": binary}}, "default-runtime": name}
if wanted != config:
    with open(path + ".tmp", "w") as f:
        json.dump(wanted, f, indent=2)
    os.replace(path + ".tmp", path)
    print("changed")
PY
}

docker_runtime_reload() {
  local pid deadline=$((SECONDS + 30))
  pid=$(pgrep -x dockerd | head -n1) || die "docker-runtime: dockerd is not running"
  kill -HUP "${pid}"
  until [[ "$(docker info -f '{{.DefaultRuntime}}' 2>/dev/null)" == "${DOCKER_RUNTIME_NAME}" ]]; do
    ((SECONDS < deadline)) || die "docker-runtime: dockerd did not take ${DOCKER_RUNTIME_NAME} as its default runtime"
    sleep 0.5
  done
}

docker_runtime() {
  if ! docker_runtime_needed; then
    log "docker-runtime: this host grants every capability; Docker keeps its own runc"
    return 0
  fi
  command -v jq >/dev/null || runtime_apt_get install -y --no-install-recommends jq || die "docker-runtime: apt-get install jq failed"
  if ! cmp -s "${OC_DIR}/lib/runc-bounded" "${DOCKER_RUNTIME_BIN}"; then
    install -D -m 0755 "${OC_DIR}/lib/runc-bounded" "${DOCKER_RUNTIME_BIN}"
  fi
  if [[ "$(docker_runtime_configure)" == changed ]]; then docker_runtime_reload; fi
  docker run --rm --privileged "${PYTHON_BASE_IMAGE}" true \
    || die "docker-runtime: a --privileged container still does not start (see ${DOCKER_RUNTIME_BIN})"
  log "docker-runtime: privileged containers start (default runtime ${DOCKER_RUNTIME_NAME})"
}

BUILD_EARLY_STEPS+=("docker-runtime docker_runtime")
