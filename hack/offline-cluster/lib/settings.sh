#!/usr/bin/env bash
# shellcheck disable=SC2034 # settings are read by the other lib files
# Cluster-wide settings shared by the up/down/status sub-commands (sourced after common.sh).
# Why a node IP on lo: the machine's own interface address is not ours to expose, and this
# kernel has no dummy-link module; a /32 on lo is local to the host, reachable from pods
# through the cni0 gateway, and identical on every machine, so certificates and docs stay fixed.
set -euo pipefail

OC_NODE_IP=${OC_NODE_IP:-10.250.250.1}
OC_NODE_NAME=${OC_NODE_NAME:-$(hostname | tr '[:upper:]' '[:lower:]')}
OC_SERVICE_CIDR=10.96.0.0/16
OC_API_SERVICE_IP=10.96.0.1
OC_DNS_SERVICE_IP=10.96.0.10
OC_CLUSTER_CIDR=10.244.0.0/16
OC_POD_CIDR=10.244.0.0/24 # what the controller-manager hands the first (only) node
OC_CLUSTER_DOMAIN=cluster.local
OC_API_PORT=6443
OC_ETCD_PORT=2379
OC_CNI_BRIDGE=cni0
OC_CNI_NETWORK=offline-cluster
OC_CNI_CONF=/etc/cni/net.d/10-offline-cluster.conflist
OC_COREDNS_IMAGE=${OC_COREDNS_IMAGE:-lab/coredns:${COREDNS_VERSION}}
OC_UP_TIMEOUT=${OC_UP_TIMEOUT:-120} # seconds per wait step; a cold first start needs the most

OC_BIN="${LAB_CACHE}/k8s-${K8S_VERSION}/bin"
OC_KUBECONFIG="${LAB_STATE}/kubeconfig"
OC_PKI="${LAB_STATE}/pki"
OC_CONF="${LAB_STATE}/config"
OC_ETCD_DATA="${LAB_STATE}/etcd"
OC_KUBELET_ROOT="${LAB_STATE}/kubelet"
OC_POD_LOGS="${LAB_STATE}/pod-logs"
OC_LAST_LOGS="${LAB_STATE%/*}/offline-cluster-last-logs"

# Components in start order; `down` walks them backwards.
OC_COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)

oc_kubectl() { "${OC_BIN}/kubectl" --kubeconfig "${OC_KUBECONFIG}" "$@"; }

# etcd comes from the cluster-build helper's cache; a host etcd on PATH is the fallback.
oc_etcd_bin() {
  local cached="${LAB_CACHE}/etcd-${ETCD_VERSION}/bin/etcd"
  if [[ -x "${cached}" ]]; then echo "${cached}"; return 0; fi
  command -v etcd || die "etcd ${ETCD_VERSION} not found in ${cached%/etcd}; run: offline-cluster build"
}

# crictl with an explicit config (silences its "no /etc/crictl.yaml" warning on every call).
oc_crictl() {
  local bin cfg="${LAB_STATE}/crictl.yaml"
  bin=$(oc_crictl_bin) || return 1
  [[ -f "${cfg}" ]] || printf 'runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 60\n' \
    "${RUNTIME_CONTAINERD_SOCK}" "${RUNTIME_CONTAINERD_SOCK}" >"${cfg}"
  "${bin}" --config "${cfg}" "$@"
}

# crictl gives pod removal with CNI teardown; without it `down` falls back to ctr.
oc_crictl_bin() {
  local cached="${LAB_CACHE}/cri-tools-${CRICTL_VERSION:-v1.34.0}/bin/crictl"
  if [[ -x "${cached}" ]]; then echo "${cached}"; return 0; fi
  command -v crictl
}
