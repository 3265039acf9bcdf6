#!/usr/bin/env bash
# `down`: stop what `up` started (by PID), remove pods, mounts, network and iptables state,
# keep the build cache. Every step tolerates a half-started cluster so `down` always cleans.
set -euo pipefail

oc_archive_logs() {
  [[ -d "${LAB_STATE}/logs" ]] || return 0
  rm -rf "${OC_LAST_LOGS}" && mkdir -p "${OC_LAST_LOGS}"
  cp -a "${LAB_STATE}/logs/." "${OC_LAST_LOGS}/" 2>/dev/null || true
  log "down: component logs copied to ${OC_LAST_LOGS}"
}

oc_containerd_answers() { "${OC_CTR[@]}" version >/dev/null 2>&1; }

# With crictl: stop and remove every pod sandbox, which runs the CNI DEL (veth, IPAM, NAT).
# Without it: kill the k8s.io tasks and remove their containers; network leftovers are
# then removed by oc_cleanup_network.
oc_remove_pods() {
  local task
  oc_containerd_answers || return 0
  if oc_crictl_bin >/dev/null 2>&1; then
    log "down: removing pods through the CRI"
    oc_crictl rmp -fa >/dev/null 2>&1 || log "down: crictl rmp failed; falling back to ctr"
  fi
  for task in $("${OC_CTR[@]}" tasks ls -q 2>/dev/null); do
    "${OC_CTR[@]}" tasks kill -s SIGKILL "${task}" >/dev/null 2>&1 || true
    "${OC_CTR[@]}" tasks delete -f "${task}" >/dev/null 2>&1 || true
  done
  "${OC_CTR[@]}" containers ls -q 2>/dev/null | xargs -r "${OC_CTR[@]}" containers rm >/dev/null 2>&1 || true
}

oc_unmount_kubelet() {
  local target
  findmnt -rn -o TARGET | { grep -E "^(${OC_KUBELET_ROOT}|/run/netns/cni-|/var/run/netns/cni-)" || true; } \
    | sort -r | while read -r target; do umount "${target}" 2>/dev/null || umount -l "${target}" 2>/dev/null || true; done
}

oc_cleanup_network() {
  local ns
  for ns in $(ip netns list 2>/dev/null | awk '/^cni-/ {print $1}'); do ip netns delete "${ns}" 2>/dev/null || true; done
  if ip link show "${OC_CNI_BRIDGE}" >/dev/null 2>&1; then ip link delete "${OC_CNI_BRIDGE}"; fi
  rm -f "${OC_CNI_CONF}"
  oc_node_ip_del
}

# Remove the KUBE-* (kube-proxy, kubelet), CNI-* (bridge ipMasq, portmap) and our own chains
# from every table of iptables and ip6tables; Docker's chains are left alone.
oc_cleanup_iptables() {
  local ipt table chains rule
  local pattern='(KUBE-|CNI-|OFFLINE-CLUSTER)'
  for ipt in iptables ip6tables; do
    command -v "${ipt}" >/dev/null || continue
    for table in filter nat mangle raw; do
      "${ipt}-save" -t "${table}" >/dev/null 2>&1 || continue
      "${ipt}-save" -t "${table}" | { grep -E "^-A [A-Z]+ .*-j ${pattern}" || true; } \
        | { grep -vE "^-A ${pattern}" || true; } | sed 's/^-A /-D /' | while read -r rule; do
          echo "${rule}" | xargs "${ipt}" -w -t "${table}" 2>/dev/null || true
        done
      chains=$("${ipt}-save" -t "${table}" | sed -nE "s/^:(${pattern}[^ ]*) .*/\1/p")
      for rule in ${chains}; do "${ipt}" -w -t "${table}" -F "${rule}" 2>/dev/null || true; done
      for rule in ${chains}; do "${ipt}" -w -t "${table}" -X "${rule}" 2>/dev/null || true; done
    done
  done
}

# containerd/dockerd are stopped only if this `up` started them (others, e.g. `build`, may be
# using them), or always with --all.
oc_stop_runtime() {
  local all=$1 owned=""
  [[ -f "${LAB_STATE}/runtime-owned" ]] && owned=$(<"${LAB_STATE}/runtime-owned")
  if [[ "${all}" == yes || "${owned}" == *dockerd* ]]; then runtime_stop_docker; fi
  if [[ "${all}" == yes || "${owned}" == *containerd* ]]; then runtime_stop_containerd; fi
  rm -f "${LAB_STATE}/runtime-owned"
}

oc_wipe_state() {
  local c
  rm -rf "${OC_PKI}" "${OC_CONF}" "${OC_ETCD_DATA}" "${OC_KUBELET_ROOT}" "${OC_POD_LOGS}" \
    "${LAB_STATE}/cni-ipam" "${OC_KUBECONFIG}" "${LAB_STATE}/crictl.yaml" "${LAB_STATE}/up-seconds"
  for c in "${OC_COMPONENTS[@]}"; do rm -f "$(oc_pid_file "${c}")" "$(oc_log_file "${c}")"; done
}

oc_down() {
  local all=no t0=${SECONDS} c i
  case "${1:-}" in
    --all) all=yes ;;
    "") ;;
    *) oc_usage_error "down takes only --all" ;;
  esac
  oc_archive_logs
  oc_stop kubelet
  oc_remove_pods
  for ((i = ${#OC_COMPONENTS[@]} - 1; i >= 0; i--)); do
    c=${OC_COMPONENTS[i]}
    [[ "${c}" == kubelet ]] || oc_stop "${c}"
  done
  oc_unmount_kubelet
  oc_cleanup_network
  oc_cleanup_iptables
  oc_stop_runtime "${all}"
  oc_wipe_state
  log "down: done in $((SECONDS - t0)) s (build cache in ${LAB_CACHE} kept)"
}
