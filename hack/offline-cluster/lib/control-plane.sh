#!/usr/bin/env bash
# Control plane as host processes: etcd, kube-apiserver, kube-controller-manager, scheduler.
# Everything listens on loopback except the apiserver, which serves on the node IP (a /32 on
# lo, see settings.sh) so pods reach it through the `kubernetes` Service.
set -euo pipefail

# etcd over plain HTTP on 127.0.0.1 only (as local-up-cluster does). --unsafe-no-fsync: the
# data dir is thrown away by `down`, and fsync latency on a shared CI disk slows every write.
oc_start_etcd() {
  mkdir -p "${OC_ETCD_DATA}" && chmod 700 "${OC_ETCD_DATA}"
  local url="http://127.0.0.1"
  oc_spawn etcd "$(oc_etcd_bin)" \
    --name=offline-cluster \
    --data-dir="${OC_ETCD_DATA}" \
    --listen-client-urls="${url}:${OC_ETCD_PORT}" \
    --advertise-client-urls="${url}:${OC_ETCD_PORT}" \
    --listen-peer-urls="${url}:2380" \
    --initial-advertise-peer-urls="${url}:2380" \
    --initial-cluster="offline-cluster=${url}:2380" \
    --unsafe-no-fsync \
    --log-level=warn
}

oc_etcd_healthy() { curl -fsS --max-time 2 "http://127.0.0.1:${OC_ETCD_PORT}/health" | grep -q '"health":"true"'; }

oc_start_apiserver() {
  local p=${OC_PKI}
  oc_spawn kube-apiserver "${OC_BIN}/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:${OC_ETCD_PORT}" \
    --bind-address="${OC_NODE_IP}" \
    --advertise-address="${OC_NODE_IP}" \
    --secure-port="${OC_API_PORT}" \
    --tls-cert-file="${p}/apiserver.crt" --tls-private-key-file="${p}/apiserver.key" \
    --client-ca-file="${p}/ca.crt" \
    --kubelet-client-certificate="${p}/apiserver-kubelet-client.crt" \
    --kubelet-client-key="${p}/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority="${p}/ca.crt" \
    --kubelet-preferred-address-types=InternalIP,Hostname \
    --service-account-issuer="https://kubernetes.default.svc.${OC_CLUSTER_DOMAIN}" \
    --service-account-key-file="${p}/sa.pub" \
    --service-account-signing-key-file="${p}/sa.key" \
    --service-cluster-ip-range="${OC_SERVICE_CIDR}" \
    --authorization-mode=Node,RBAC \
    --enable-admission-plugins=NodeRestriction \
    --allow-privileged=true \
    --profiling=false \
    --v=1
}

oc_apiserver_ready() { oc_kubectl get --raw /readyz; }

oc_start_controller_manager() {
  local kc="${OC_CONF}/controller-manager.kubeconfig" p=${OC_PKI}
  oc_spawn kube-controller-manager "${OC_BIN}/kube-controller-manager" \
    --kubeconfig="${kc}" --authentication-kubeconfig="${kc}" --authorization-kubeconfig="${kc}" \
    --bind-address=127.0.0.1 \
    --leader-elect=false \
    --use-service-account-credentials=true \
    --service-account-private-key-file="${p}/sa.key" \
    --root-ca-file="${p}/ca.crt" \
    --cluster-signing-cert-file="${p}/ca.crt" --cluster-signing-key-file="${p}/ca.key" \
    --allocate-node-cidrs=true --cluster-cidr="${OC_CLUSTER_CIDR}" --node-cidr-mask-size=24 \
    --service-cluster-ip-range="${OC_SERVICE_CIDR}" \
    --profiling=false \
    --v=1
}

oc_start_scheduler() {
  local kc="${OC_CONF}/scheduler.kubeconfig"
  oc_spawn kube-scheduler "${OC_BIN}/kube-scheduler" \
    --kubeconfig="${kc}" --authentication-kubeconfig="${kc}" --authorization-kubeconfig="${kc}" \
    --bind-address=127.0.0.1 \
    --leader-elect=false \
    --profiling=false \
    --v=1
}

oc_control_plane_up() {
  oc_start_etcd
  oc_wait etcd "${OC_UP_TIMEOUT}" "etcd /health" oc_etcd_healthy
  oc_start_apiserver
  oc_wait kube-apiserver "${OC_UP_TIMEOUT}" "kube-apiserver /readyz" oc_apiserver_ready
  log "kube-apiserver ready at https://${OC_NODE_IP}:${OC_API_PORT}"
  oc_start_controller_manager
  oc_start_scheduler
}
