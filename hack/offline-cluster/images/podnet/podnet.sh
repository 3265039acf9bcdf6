#!/bin/bash
# podnet — the kind node image's default pod network, one pod per node (DaemonSet, host network):
#  1. writes this node's CNI config: ptp veth pairs + host-local IPAM over the node's spec.podCIDR (+ portmap),
#  2. routes every other node's podCIDR via that node's InternalIP (all kind nodes share one Docker network),
#  3. masquerades pod traffic that leaves the cluster CIDR.
# It is what kind's own kindnetd does, minus network policy; kindnetd's module is not on the Go module proxy
# (docs/decisions.md). Nodes are followed with `kubectl get nodes --watch`: every change is acted on at once.
set -euo pipefail

: "${NODE_NAME:?NODE_NAME (downward API spec.nodeName) is required}"
: "${POD_SUBNET:?POD_SUBNET (the cluster pod CIDR) is required}"
CNI_CONF=${CNI_CONF:-/etc/cni/net.d/10-podnet.conflist}
CHAIN=PODNET-MASQ

log() { printf '[podnet %s] %s\n' "$(date +%T)" "$*" >&2; }

# kind adds CONTROL_PLANE_ENDPOINT (host:port on the nodes' network), so the API is reachable before kube-proxy
# has programmed the kubernetes Service; kubectl's in-cluster config reads these two variables.
if [[ -n "${CONTROL_PLANE_ENDPOINT:-}" ]]; then
  export KUBERNETES_SERVICE_HOST=${CONTROL_PLANE_ENDPOINT%:*} KUBERNETES_SERVICE_PORT=${CONTROL_PLANE_ENDPOINT##*:}
fi

masquerade() {
  iptables -t nat -N "${CHAIN}" 2>/dev/null || iptables -t nat -F "${CHAIN}"
  iptables -t nat -A "${CHAIN}" -d "${POD_SUBNET}" -j RETURN
  iptables -t nat -A "${CHAIN}" -j MASQUERADE
  iptables -t nat -C POSTROUTING -s "${POD_SUBNET}" -j "${CHAIN}" 2>/dev/null \
    || iptables -t nat -A POSTROUTING -s "${POD_SUBNET}" -j "${CHAIN}"
  log "masquerading ${POD_SUBNET} -> outside"
}

write_cni_config() {
  local subnet=$1 tmp
  tmp=$(mktemp "${CNI_CONF}.XXXXXX")
  cat >"${tmp}" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "podnet",
  "plugins": [
    {
      "type": "ptp",
      "ipMasq": false,
      "ipam": {
        "type": "host-local",
        "dataDir": "/run/cni-ipam-state",
        "routes": [{"dst": "0.0.0.0/0"}],
        "ranges": [[{"subnet": "${subnet}"}]]
      },
      "mtu": 1500
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON
  if cmp -s "${tmp}" "${CNI_CONF}"; then rm -f "${tmp}"; return 0; fi
  chmod 644 "${tmp}" && mv "${tmp}" "${CNI_CONF}"
  log "wrote ${CNI_CONF} for pod subnet ${subnet}"
}

# One line per node event: NAME|PODCIDR|INTERNAL-IPS (fields empty until the node has them).
on_node() {
  local name=$1 cidr=${2:-} ip=${3%% *} # the first InternalIP (a dual-stack node lists two)
  [[ -n "${cidr}" ]] || return 0
  if [[ "${name}" == "${NODE_NAME}" ]]; then
    write_cni_config "${cidr}"
  elif [[ -n "${ip}" ]]; then
    ip route replace "${cidr}" via "${ip}"
    log "route ${cidr} via ${ip} (node ${name})"
  fi
}

main() {
  masquerade
  local fmt='{.metadata.name}{"|"}{.spec.podCIDR}{"|"}{.status.addresses[?(@.type=="InternalIP")].address}{"\n"}'
  # The watch ends when the API server closes it (minutes); exiting lets the kubelet restart us with a fresh list.
  kubectl get nodes --watch -o "jsonpath=${fmt}" | while IFS='|' read -r name cidr ip; do
    on_node "${name}" "${cidr}" "${ip}"
  done
}

main "$@"
