#!/usr/bin/env bash
# Container runtime for the offline cluster: Debian's containerd (CRI for the kubelet) and
# dockerd (image builds) sharing that one containerd, started as plain background processes.
# Why no service manager: these machines have no systemd, and `down` must be able to stop
# exactly what `up` started, so every daemon's PID goes to ${LAB_STATE}/pids and its output
# to ${LAB_STATE}/logs. Starting, waiting for and stopping a daemon is proc.sh's mechanism (the
# same as for the control plane); the runtime_* names below only adapt it. Sourced after
# common.sh; defines functions only.
set -euo pipefail

# shellcheck source=SCRIPTDIR/proc.sh
source "${OC_DIR}/lib/proc.sh"

# What the kubelet, kube-proxy, CRI, image builds and base-image builds call on the host.
runtime_packages=(
  containerd runc containernetworking-plugins docker.io
  iptables conntrack socat ebtables ethtool iproute2 kmod util-linux mount procps
  debootstrap ca-certificates curl gcc libc6-dev
)
RUNTIME_CONTAINERD_SOCK=/run/containerd/containerd.sock
RUNTIME_DOCKER_SOCK=/var/run/docker.sock
RUNTIME_WAIT_SECONDS=${RUNTIME_WAIT_SECONDS:-60}

# Print the PID of a daemon we started if it is still alive (and is that daemon), else fail.
runtime_pid() { oc_pid "$1"; }
runtime_log_file() { oc_log_file "$1"; }

runtime_missing_packages() {
  local p status
  for p in "${runtime_packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "${p}" 2>/dev/null || true)
    [[ "${status}" == installed ]] || echo "${p}"
  done
}

# Keep package maintainer scripts from starting daemons behind our back (no PID we could stop).
runtime_apt_get() {
  local policy=/usr/sbin/policy-rc.d created=0 rc=0
  if [[ ! -e "${policy}" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"${policy}" && chmod +x "${policy}" && created=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get -qq -o Dpkg::Use-Pty=0 "$@" || rc=$?
  ((created)) && rm -f "${policy}"
  return "${rc}"
}

runtime_install() {
  local missing apt_log="${LAB_STATE}/logs/apt-get.log"
  mapfile -t missing < <(runtime_missing_packages)
  if ((${#missing[@]} == 0)); then log "runtime: all host packages present"; return 0; fi
  mkdir -p "${LAB_STATE}/logs"
  log "runtime: installing ${missing[*]} (log ${apt_log})"
  if ! runtime_apt_get install -y --no-install-recommends "${missing[@]}" >>"${apt_log}" 2>&1; then
    log "runtime: install failed with the current package lists; running apt-get update once"
    runtime_apt_get update >>"${apt_log}" 2>&1 || die "runtime: apt-get update failed; see ${apt_log}"
    runtime_apt_get install -y --no-install-recommends "${missing[@]}" >>"${apt_log}" 2>&1 \
      || die "runtime: apt-get install ${missing[*]} failed; see ${apt_log}"
  fi
}

# Forwarding and bridge netfilter must be on BEFORE dockerd starts: dockerd sets the FORWARD
# policy to DROP when it has to enable ip_forward itself, which would cut pod traffic.
runtime_sysctls() {
  modprobe br_netfilter 2>/dev/null || true
  modprobe overlay 2>/dev/null || true
  [[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]] || die "runtime: br_netfilter is not available in this kernel"
  sysctl -q -w net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 \
    net.bridge.bridge-nf-call-ip6tables=1 >/dev/null
}

# Print the containerd config this version of the lab wants.
runtime_containerd_config_text() {
  cat <<EOF
# Written by hack/offline-cluster/lib/runtime.sh — CRI for the kubelet, shared with dockerd.
version = 2
root = "/var/lib/containerd"
state = "/run/containerd"
[grpc]
  address = "${RUNTIME_CONTAINERD_SOCK}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  # Root here lacks CAP_SYS_RESOURCE, so the negative oom_score_adj CRI gives sandboxes makes runc
  # fail; clamp CRI's values to containerd's own score instead.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "/etc/cni/net.d"
EOF
}

# Write the config when it changed; prints its path. Returns 1 if it changed, 0 if not.
runtime_containerd_config() {
  local dir="${LAB_STATE}/containerd" want
  mkdir -p "${dir}" /etc/cni/net.d
  want=$(runtime_containerd_config_text)
  echo "${dir}/config.toml"
  [[ -f "${dir}/config.toml" && "$(<"${dir}/config.toml")" == "${want}" ]] && return 0
  printf '%s\n' "${want}" >"${dir}/config.toml"
  return 1
}

# Start NAME as a detached daemon (proc.sh's oc_spawn): runtime_spawn NAME COMMAND ARGS...
runtime_spawn() {
  local name=$1 bin
  bin=$(command -v "$2") || die "runtime: ${2} not found on PATH (run: offline-cluster build)"
  shift 2
  oc_spawn "${name}" "${bin}" "$@"
}

# Wait until CHECK... succeeds or NAME dies / the deadline passes: runtime_wait NAME CHECK...
runtime_wait() {
  local name=$1
  shift
  oc_wait "${name}" "${RUNTIME_WAIT_SECONDS}" "${name} to answer" "$@"
}

runtime_containerd_ready() { [[ -S "${RUNTIME_CONTAINERD_SOCK}" ]] && ctr --address "${RUNTIME_CONTAINERD_SOCK}" version; }
# dockerd answers and reaches containerd (it reconnects a few seconds after containerd restarts).
runtime_docker_containerd_ok() {
  local rev
  rev=$(docker -H "unix://${RUNTIME_DOCKER_SOCK}" info -f '{{.ContainerdCommit.ID}}' 2>/dev/null) || return 1
  [[ -n "${rev}" && "${rev}" != N/A ]]
}
runtime_docker_ready() { [[ -S "${RUNTIME_DOCKER_SOCK}" ]] && docker -H "unix://${RUNTIME_DOCKER_SOCK}" info; }

# Start containerd, or restart it when its config changed (running containers keep running in
# their shims, and dockerd reconnects on its own).
runtime_start_containerd() {
  local config="${LAB_STATE}/containerd/config.toml" changed=0
  runtime_containerd_config >/dev/null || changed=1
  if runtime_pid containerd >/dev/null; then
    ((changed)) || return 0
    log "runtime: containerd config changed; restarting containerd"
    runtime_stop_one containerd
  elif runtime_containerd_ready >/dev/null 2>&1; then
    die "runtime: a containerd we did not start answers on ${RUNTIME_CONTAINERD_SOCK}; stop it first"
  fi
  runtime_spawn containerd containerd --config "${config}"
  runtime_wait containerd runtime_containerd_ready
  if ((changed)) && runtime_pid dockerd >/dev/null; then runtime_wait dockerd runtime_docker_containerd_ok; fi
}

runtime_start_docker() {
  if runtime_pid dockerd >/dev/null; then return 0; fi
  if runtime_docker_ready >/dev/null 2>&1; then
    die "runtime: a dockerd we did not start answers on ${RUNTIME_DOCKER_SOCK}; stop it first"
  fi
  runtime_start_containerd
  runtime_sysctls
  runtime_spawn dockerd dockerd --containerd="${RUNTIME_CONTAINERD_SOCK}" \
    --host="unix://${RUNTIME_DOCKER_SOCK}" --exec-opt native.cgroupdriver=cgroupfs
  runtime_wait dockerd runtime_docker_ready
}

# Everything `up` needs from the host: packages, sysctls, containerd (CRI) and dockerd.
runtime_start() {
  runtime_install
  runtime_sysctls
  runtime_start_containerd
  runtime_start_docker
}

# SIGTERM, wait up to 30 s, then SIGKILL one daemon we started.
runtime_stop_one() { oc_stop "$1" 30; }

# Tasks outlive containerd in their shims; kill them so no container process is left behind.
runtime_kill_containerd_tasks() {
  local ns task
  runtime_containerd_ready >/dev/null 2>&1 || return 0
  for ns in $(ctr --address "${RUNTIME_CONTAINERD_SOCK}" namespaces list -q); do
    for task in $(ctr --address "${RUNTIME_CONTAINERD_SOCK}" -n "${ns}" tasks list -q); do
      ctr --address "${RUNTIME_CONTAINERD_SOCK}" -n "${ns}" tasks kill -s SIGKILL "${task}" >/dev/null 2>&1 || true
      ctr --address "${RUNTIME_CONTAINERD_SOCK}" -n "${ns}" tasks delete -f "${task}" >/dev/null 2>&1 || true
    done
  done
}

runtime_stop_docker() { runtime_stop_one dockerd; }

runtime_stop_containerd() {
  runtime_pid containerd >/dev/null || return 0
  runtime_kill_containerd_tasks
  runtime_stop_one containerd
}

# Stop dockerd first (it stops its containers), then containerd and any task it still runs.
runtime_stop() {
  runtime_stop_docker
  runtime_stop_containerd
}

runtime_status() {
  local name pid
  for name in containerd dockerd; do
    if pid=$(runtime_pid "${name}"); then
      printf '%-12s running  pid %s  log %s\n' "${name}" "${pid}" "$(runtime_log_file "${name}")"
    else
      printf '%-12s stopped\n' "${name}"
    fi
  done
}
