#!/usr/bin/env bash
# The node: host networking prerequisites, CNI config, kubelet and kube-proxy.
set -euo pipefail

OC_FORWARD_CHAIN=OFFLINE-CLUSTER-FWD

# The node IP lives on lo as a /32: host-local, and reachable from pods via cni0's gateway.
oc_node_ip_add() {
  ip -o addr show dev lo | grep -q " ${OC_NODE_IP}/32 " && return 0
  ip addr add "${OC_NODE_IP}/32" dev lo
}
oc_node_ip_del() { ip addr del "${OC_NODE_IP}/32" dev lo 2>/dev/null || true; }

# Pod traffic is bridged through netfilter (br_netfilter); if something (dockerd) set the
# FORWARD policy to DROP, pod-to-pod and pod-to-outside packets would vanish. Accept the pod
# range explicitly, in our own chain so `down` removes exactly what we added.
oc_forward_rules_add() {
  iptables -w -N "${OC_FORWARD_CHAIN}" 2>/dev/null || iptables -w -F "${OC_FORWARD_CHAIN}"
  iptables -w -A "${OC_FORWARD_CHAIN}" -s "${OC_CLUSTER_CIDR}" -j ACCEPT
  iptables -w -A "${OC_FORWARD_CHAIN}" -d "${OC_CLUSTER_CIDR}" -j ACCEPT
  iptables -w -C FORWARD -j "${OC_FORWARD_CHAIN}" 2>/dev/null \
    || iptables -w -I FORWARD 1 -m comment --comment "offline-cluster pod traffic" -j "${OC_FORWARD_CHAIN}"
}

oc_node_network_prepare() {
  [[ "$(</proc/sys/net/ipv4/ip_forward)" == 1 ]] || sysctl -q -w net.ipv4.ip_forward=1
  [[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]] || modprobe br_netfilter 2>/dev/null || true
  sysctl -q -w net.bridge.bridge-nf-call-iptables=1 >/dev/null \
    || die "net.bridge.bridge-nf-call-iptables unavailable (br_netfilter missing); Services would not work"
  oc_node_ip_add
  oc_forward_rules_add
}

# Bridge with the node's pod CIDR (the controller-manager allocates the first /24 of the
# cluster CIDR to the first node; oc_check_pod_cidr verifies). hairpinMode lets a pod reach
# itself through its own Service; ipMasq NATs pod traffic leaving the pod network.
oc_write_cni_config() {
  mkdir -p "$(dirname "${OC_CNI_CONF}")" "${LAB_STATE}/cni-ipam"
  cat >"${OC_CNI_CONF}" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "${OC_CNI_NETWORK}",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "${OC_CNI_BRIDGE}",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "${LAB_STATE}/cni-ipam",
        "ranges": [[{"subnet": "${OC_POD_CIDR}"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
}

# Pods use this as their upstream resolver (dnsPolicy Default, e.g. CoreDNS itself): the
# host's nameservers without a loopback stub, which would point into the pod itself.
oc_write_resolv_conf() {
  grep -E '^(nameserver|search|options)' /etc/resolv.conf | grep -vE '^nameserver\s+127\.' \
    >"${OC_CONF}/resolv.conf" || true
  grep -q '^nameserver' "${OC_CONF}/resolv.conf" || echo "nameserver ${OC_DNS_SERVICE_IP}" >>"${OC_CONF}/resolv.conf"
}

# oomScoreAdj 0: root here lacks CAP_SYS_RESOURCE, so the default -999 cannot be set (the CRI
# side needs containerd's restrict_oom_score_adj for the same reason, see runtime.sh).
# Image GC at 100 % never runs: containerd 1.6 does not pin the pause image and nothing can be
# pulled back. Eviction thresholds for disk are 0 % so a full-ish CI disk does not evict pods.
oc_write_kubelet_config() {
  cat >"${OC_CONF}/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: ${OC_NODE_IP}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
tlsCertFile: ${OC_PKI}/kubelet-serving.crt
tlsPrivateKeyFile: ${OC_PKI}/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: ${OC_PKI}/ca.crt}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://${RUNTIME_CONTAINERD_SOCK:-/run/containerd/containerd.sock}
clusterDNS: [${OC_DNS_SERVICE_IP}]
clusterDomain: ${OC_CLUSTER_DOMAIN}
resolvConf: ${OC_CONF}/resolv.conf
hairpinMode: hairpin-veth
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: "0%"
  nodefs.inodesFree: "0%"
  imagefs.available: "0%"
  imagefs.inodesFree: "0%"
podLogsDir: ${OC_POD_LOGS}
rotateCertificates: false
serverTLSBootstrap: false
containerLogMaxSize: 10Mi
oomScoreAdj: 0
volumePluginDir: ${OC_KUBELET_ROOT}/volume-plugins
EOF
}

oc_start_kubelet() {
  mkdir -p "${OC_KUBELET_ROOT}" "${OC_POD_LOGS}"
  oc_write_kubelet_config
  oc_spawn kubelet "${OC_BIN}/kubelet" \
    --config="${OC_CONF}/kubelet.yaml" \
    --kubeconfig="${OC_CONF}/kubelet.kubeconfig" \
    --root-dir="${OC_KUBELET_ROOT}" \
    --hostname-override="${OC_NODE_NAME}" \
    --node-ip="${OC_NODE_IP}" \
    --v=1
}

# conntrack timeouts/maxPerCore 0: leave the host's conntrack sysctls alone. NodePorts only on
# the node IP, not on the machine's real interface.
oc_write_kube_proxy_config() {
  cat >"${OC_CONF}/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clusterCIDR: ${OC_CLUSTER_CIDR}
hostnameOverride: ${OC_NODE_NAME}
bindAddress: ${OC_NODE_IP}
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: [${OC_NODE_IP}/32]
oomScoreAdj: 0
clientConnection:
  kubeconfig: ${OC_CONF}/kube-proxy.kubeconfig
iptables:
  localhostNodePorts: false
  minSyncPeriod: 1s
conntrack:
  maxPerCore: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
EOF
}

oc_start_kube_proxy() {
  oc_write_kube_proxy_config
  oc_spawn kube-proxy "${OC_BIN}/kube-proxy" --config="${OC_CONF}/kube-proxy.yaml" --v=1
}

oc_node_up() {
  oc_write_cni_config
  oc_start_kubelet
  oc_start_kube_proxy
}

oc_node_ready() {
  oc_kubectl wait --for=condition=Ready "node/${OC_NODE_NAME}" --timeout=2s
}

oc_node_pod_cidr() { oc_kubectl get node "${OC_NODE_NAME}" -o jsonpath='{.spec.podCIDR}'; }
oc_pod_cidr_assigned() { [[ -n "$(oc_node_pod_cidr)" ]]; }

# The CNI config is written before the node exists; make sure the controller-manager agreed.
oc_check_pod_cidr() {
  local cidr
  oc_wait kube-controller-manager "${OC_UP_TIMEOUT}" "a podCIDR for node/${OC_NODE_NAME}" oc_pod_cidr_assigned
  cidr=$(oc_node_pod_cidr)
  [[ "${cidr}" == "${OC_POD_CIDR}" ]] \
    || log "warning: node podCIDR is ${cidr}, the CNI config uses ${OC_POD_CIDR} (still inside ${OC_CLUSTER_CIDR})"
}
