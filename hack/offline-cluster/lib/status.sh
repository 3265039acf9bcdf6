#!/usr/bin/env bash
# `status`: one line per component, then whether the API answers and the node is Ready.
# Exit code (what programs read): 0 = the API answers and the node is Ready, 3 = not (like `systemctl is-active`).
set -euo pipefail

oc_rss_mib() { awk '/^VmRSS:/ {print int($2 / 1024)}' "/proc/$1/status" 2>/dev/null || echo 0; }

oc_status_line() {
  local name=$1 pid
  if pid=$(oc_pid "${name}"); then
    printf '%-24s running  pid %-7s rss %4s MiB  log %s\n' "${name}" "${pid}" "$(oc_rss_mib "${pid}")" \
      "$(oc_log_file "${name}")"
  else
    printf '%-24s stopped\n' "${name}"
  fi
}

# Memory of what runs the cluster: our processes, containerd (+ its k8s.io shims) and the pods'
# cgroup (cgroup v1 memory.stat total_rss). dockerd is shown by runtime_status, not summed.
oc_status_memory() {
  local total=0 c pid shims=0 pods=0 stat=/sys/fs/cgroup/memory/kubepods/memory.stat
  for c in "${OC_COMPONENTS[@]}"; do
    if pid=$(oc_pid "${c}"); then total=$((total + $(oc_rss_mib "${pid}"))); fi
  done
  if pid=$(runtime_pid containerd 2>/dev/null); then total=$((total + $(oc_rss_mib "${pid}"))); fi
  for pid in $(pgrep -f 'containerd-shim.* -namespace k8s.io' || true); do shims=$((shims + $(oc_rss_mib "${pid}"))); done
  [[ ! -r "${stat}" ]] || pods=$(awk '$1 == "total_rss" {print int($2 / 1048576)}' "${stat}")
  printf '%-24s %s MiB (components + containerd %s, pod shims %s, pods %s)\n' memory \
    "$((total + shims + pods))" "${total}" "${shims}" "${pods}"
}

oc_status() {
  local c ready
  if declare -F runtime_status >/dev/null; then runtime_status; fi
  for c in "${OC_COMPONENTS[@]}"; do oc_status_line "${c}"; done
  [[ -z "$(oc_running_components)" ]] || oc_status_memory
  if [[ -f "${OC_KUBECONFIG}" ]] && oc_apiserver_ready >/dev/null 2>&1; then
    ready=$(oc_kubectl get node "${OC_NODE_NAME}" \
      -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true)
    printf '%-24s %s\n' api "https://${OC_NODE_IP}:${OC_API_PORT} answers (kubeconfig ${OC_KUBECONFIG})"
    printf '%-24s %s\n' "node/${OC_NODE_NAME}" "Ready=${ready:-unknown}"
  else
    printf '%-24s %s\n' api "not answering"
  fi
  [[ "${ready:-}" == True ]] || return 3
}

# All components alive and the API ready: the cluster is up.
oc_is_up() {
  local c
  for c in "${OC_COMPONENTS[@]}"; do oc_pid "${c}" >/dev/null || return 1; done
  oc_apiserver_ready >/dev/null 2>&1
}

oc_running_components() {
  local c
  for c in "${OC_COMPONENTS[@]}"; do if oc_pid "${c}" >/dev/null; then echo "${c}"; fi; done
}
