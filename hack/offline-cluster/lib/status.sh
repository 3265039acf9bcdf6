#!/usr/bin/env bash
# `status`: one line per component, then whether the API answers and the node is Ready.
set -euo pipefail

oc_status_line() {
  local name=$1 pid
  if pid=$(oc_pid "${name}"); then
    printf '%-24s running  pid %-7s log %s\n' "${name}" "${pid}" "$(oc_log_file "${name}")"
  else
    printf '%-24s stopped\n' "${name}"
  fi
}

oc_status() {
  local c ready
  if declare -F runtime_status >/dev/null; then runtime_status; fi
  for c in "${OC_COMPONENTS[@]}"; do oc_status_line "${c}"; done
  if [[ -f "${OC_KUBECONFIG}" ]] && oc_apiserver_ready >/dev/null 2>&1; then
    ready=$(oc_kubectl get node "${OC_NODE_NAME}" \
      -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true)
    printf '%-24s %s\n' api "https://${OC_NODE_IP}:${OC_API_PORT} answers (kubeconfig ${OC_KUBECONFIG})"
    printf '%-24s %s\n' "node/${OC_NODE_NAME}" "Ready=${ready:-unknown}"
  else
    printf '%-24s %s\n' api "not answering"
  fi
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
