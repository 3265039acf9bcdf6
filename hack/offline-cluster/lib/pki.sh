#!/usr/bin/env bash
# PKI and kubeconfigs for the offline cluster, made with openssl (no kubeadm in the build).
# One CA signs every serving and client certificate and is also the controller-manager's
# CSR signer; ECDSA P-256 keeps generation well under a second. Identities follow the names
# Kubernetes' default RBAC already binds (system:kube-scheduler, system:node:<name>,
# system:kube-proxy ...), so no extra bindings are needed. The admin identity is in
# system:masters: that group bypasses RBAC, so `kubectl exec/logs` work without the
# cluster-admins binding kubeadm >= 1.29 needs for its admin.conf.
set -euo pipefail

oc_pki_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

oc_pki_ca() {
  oc_pki_key "${OC_PKI}/ca.key"
  openssl req -x509 -new -key "${OC_PKI}/ca.key" -out "${OC_PKI}/ca.crt" -days 3650 -sha256 \
    -subj "/CN=offline-cluster-ca" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign"
}

# oc_pki_cert NAME SUBJECT USAGE [SAN] — USAGE is clientAuth or serverAuth.
oc_pki_cert() {
  local name=$1 subject=$2 usage=$3 san=${4:-} ext
  ext="basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=${usage}"
  [[ -z "${san}" ]] || ext+=$'\n'"subjectAltName=${san}"
  oc_pki_key "${OC_PKI}/${name}.key"
  openssl req -new -key "${OC_PKI}/${name}.key" -subj "${subject}" -out "${OC_PKI}/${name}.csr"
  openssl x509 -req -in "${OC_PKI}/${name}.csr" -CA "${OC_PKI}/ca.crt" -CAkey "${OC_PKI}/ca.key" \
    -CAcreateserial -days 365 -sha256 -out "${OC_PKI}/${name}.crt" -extfile <(echo "${ext}") 2>/dev/null
  rm -f "${OC_PKI}/${name}.csr"
}

oc_pki_apiserver_sans() {
  local san="DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
  san+=",DNS:kubernetes.default.svc.${OC_CLUSTER_DOMAIN},DNS:localhost,DNS:${OC_NODE_NAME}"
  echo "${san},IP:127.0.0.1,IP:${OC_NODE_IP},IP:${OC_API_SERVICE_IP}"
}

oc_b64() { base64 -w0 <"$1"; }

# oc_kubeconfig FILE CERT_NAME — self-contained (embedded data) so it can be copied anywhere.
oc_kubeconfig() {
  local file=$1 cert=$2
  install -m 600 /dev/null "${file}"
  cat >"${file}" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: offline-cluster
  cluster:
    server: https://${OC_NODE_IP}:${OC_API_PORT}
    certificate-authority-data: $(oc_b64 "${OC_PKI}/ca.crt")
users:
- name: ${cert}
  user:
    client-certificate-data: $(oc_b64 "${OC_PKI}/${cert}.crt")
    client-key-data: $(oc_b64 "${OC_PKI}/${cert}.key")
contexts:
- name: offline-cluster
  context:
    cluster: offline-cluster
    user: ${cert}
    namespace: default
current-context: offline-cluster
EOF
}

# Everything the components need; regenerated on every fresh `up` (down wipes it).
oc_pki_generate() {
  [[ -f "${OC_PKI}/.complete" ]] && return 0
  local node=${OC_NODE_NAME} c
  rm -rf "${OC_PKI}" && mkdir -p "${OC_PKI}" "${OC_CONF}" && chmod 700 "${OC_PKI}"
  oc_pki_ca
  oc_pki_cert apiserver "/CN=kube-apiserver" serverAuth "$(oc_pki_apiserver_sans)"
  oc_pki_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
  oc_pki_cert admin "/O=system:masters/CN=offline-cluster-admin" clientAuth
  oc_pki_cert controller-manager "/CN=system:kube-controller-manager" clientAuth
  oc_pki_cert scheduler "/CN=system:kube-scheduler" clientAuth
  oc_pki_cert kubelet "/O=system:nodes/CN=system:node:${node}" clientAuth
  oc_pki_cert kubelet-serving "/CN=${node}" serverAuth "DNS:${node},DNS:localhost,IP:${OC_NODE_IP},IP:127.0.0.1"
  oc_pki_cert kube-proxy "/CN=system:kube-proxy" clientAuth
  oc_pki_key "${OC_PKI}/sa.key"
  openssl pkey -in "${OC_PKI}/sa.key" -pubout -out "${OC_PKI}/sa.pub"
  for c in admin controller-manager scheduler kubelet kube-proxy; do
    oc_kubeconfig "${OC_CONF}/${c}.kubeconfig" "${c}"
  done
  install -m 600 "${OC_CONF}/admin.kubeconfig" "${OC_KUBECONFIG}"
  touch "${OC_PKI}/.complete"
}
