#!/usr/bin/env bash
# Cluster add-ons applied by `up`: CoreDNS (Deployment + kube-dns Service + RBAC).
set -euo pipefail

# Forward non-cluster names to the host's resolvers like minikube/kind do; none when the host
# has no usable nameserver (a forward to ourselves would trip CoreDNS's loop plugin).
oc_coredns_forward() {
  if grep -q '^nameserver' "${OC_CONF}/resolv.conf" 2>/dev/null && [[ "${OC_DNS_FORWARD:-yes}" != no ]]; then
    echo "forward . /etc/resolv.conf"
  fi
}

oc_apply_coredns() {
  local manifest="${OC_DIR}/lib/addons/coredns.yaml"
  sed -e "s#@IMAGE@#${OC_COREDNS_IMAGE}#" -e "s#@DNS_IP@#${OC_DNS_SERVICE_IP}#" \
    -e "s#@DOMAIN@#${OC_CLUSTER_DOMAIN}#" -e "s#@FORWARD@#$(oc_coredns_forward)#" "${manifest}" \
    | oc_kubectl apply -f - >/dev/null
}

oc_coredns_rolled_out() { oc_kubectl -n kube-system rollout status deployment/coredns --timeout=2s; }
oc_default_sa_exists() { oc_kubectl -n default get serviceaccount default; }
oc_dns_answers() {
  local ip
  ip=$(python3 "${OC_DIR}/lib/dnsprobe.py" "${OC_DNS_SERVICE_IP}" "kubernetes.default.svc.${OC_CLUSTER_DOMAIN}")
  [[ "${ip}" == "${OC_API_SERVICE_IP}" ]]
}

# Waits for what `up` promises; CoreDNS itself is applied earlier (oc_apply_coredns) so its pod
# is scheduled the moment the node registers.
oc_addons_wait() {
  oc_wait kube-controller-manager "${OC_UP_TIMEOUT}" "the default ServiceAccount" oc_default_sa_exists
  oc_wait kubelet "${OC_UP_TIMEOUT}" "CoreDNS rollout (kubectl -n kube-system describe pod -l k8s-app=kube-dns)" \
    oc_coredns_rolled_out
  oc_wait kube-proxy "${OC_UP_TIMEOUT}" "DNS answers for kubernetes.default via ${OC_DNS_SERVICE_IP}" oc_dns_answers
}
