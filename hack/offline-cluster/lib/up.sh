#!/usr/bin/env bash
# `up`: runtime, PKI, control plane, node, add-ons — then wait until the cluster is usable
# (node Ready, default ServiceAccount, CoreDNS rolled out and answering).
set -euo pipefail

oc_require_binaries() {
  local c
  for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
    [[ -x "${OC_BIN}/${c}" ]] || die "${c} ${K8S_VERSION} missing in ${OC_BIN}; run: offline-cluster build"
  done
  oc_etcd_bin >/dev/null
  command -v openssl >/dev/null || die "openssl missing; install it (apt-get install openssl)"
}

# Record which runtime daemons `up` starts, so `down` stops those and no others (kept across
# an `up` that follows a crashed cluster, hence the merge with what is already recorded).
oc_runtime_up() {
  local owned=() file="${LAB_STATE}/runtime-owned"
  runtime_pid containerd >/dev/null 2>&1 || owned+=(containerd)
  runtime_pid dockerd >/dev/null 2>&1 || owned+=(dockerd)
  runtime_start
  mkdir -p "${LAB_STATE}"
  [[ ! -f "${file}" ]] || read -r -a owned -d '' <<<"${owned[*]:-} $(<"${file}")" || true
  printf '%s\n' "${owned[@]}" | sort -u | tr '\n' ' ' >"${file}"
}

# A cluster that died without `down` (killed processes, reboot) leaves pods, mounts, iptables
# chains and old etcd data behind; start from a clean slate instead of half-reusing them.
oc_clean_stale() {
  [[ -d "${OC_PKI}" || -d "${OC_ETCD_DATA}" || -f "${OC_CNI_CONF}" ]] || return 0
  log "up: cleaning up after a cluster that was not taken down"
  oc_archive_logs
  oc_remove_pods
  oc_unmount_kubelet
  oc_cleanup_network
  oc_cleanup_iptables
  oc_wipe_state
}

oc_up_exit() {
  local rc=$1
  ((rc == 0)) && return 0
  mkdir -p "${OC_LAST_LOGS}"
  cp -a "${LAB_STATE}/logs/." "${OC_LAST_LOGS}/" 2>/dev/null || true
  printf 'offline-cluster: up failed after %s s; logs in %s (copy in %s); run "offline-cluster down" to clean up\n' \
    "$((SECONDS - OC_UP_T0))" "${LAB_STATE}/logs" "${OC_LAST_LOGS}" >&2
}

oc_up() {
  (($# == 0)) || oc_usage_error "up takes no arguments"
  OC_UP_T0=${SECONDS}
  if oc_is_up; then
    log "already up: kubeconfig ${OC_KUBECONFIG} (offline-cluster status for details)"
    return 0
  fi
  local running
  running=$(oc_running_components | tr '\n' ' ')
  [[ -z "${running}" ]] || die "cluster partially running (${running% }); run: offline-cluster down"
  oc_require_binaries
  trap 'oc_up_exit $?' EXIT
  log "up: starting the container runtime"
  oc_runtime_up
  oc_clean_stale
  oc_node_network_prepare
  oc_preload_images
  oc_pki_generate
  oc_write_resolv_conf
  log "up: starting the control plane"
  oc_control_plane_up
  oc_apply_coredns
  log "up: starting the node (kubelet, kube-proxy)"
  oc_node_up
  oc_wait kubelet "${OC_UP_TIMEOUT}" "node/${OC_NODE_NAME} Ready" oc_node_ready
  log "up: node ${OC_NODE_NAME} Ready after $((SECONDS - OC_UP_T0)) s"
  oc_check_pod_cidr
  oc_addons_wait
  trap - EXIT
  echo "$((SECONDS - OC_UP_T0))" >"${LAB_STATE}/up-seconds"
  log "up: cluster ready in $((SECONDS - OC_UP_T0)) s; kubeconfig ${OC_KUBECONFIG}"
  log "up: use it with: eval \"\$(${OC_DIR}/offline-cluster env)\""
}
