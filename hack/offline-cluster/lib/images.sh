#!/usr/bin/env bash
# Images for the kubelet: copied from dockerd into containerd's k8s.io namespace (the CRI's),
# the offline equivalent of `kind load docker-image`. Nothing can be pulled here, so pods use
# imagePullPolicy Never/IfNotPresent against what this puts in place.
set -euo pipefail

OC_CTR=(ctr --address "${RUNTIME_CONTAINERD_SOCK:-/run/containerd/containerd.sock}" -n k8s.io)
OC_IMAGE_LABEL=resiliency-lab.docker-id

# Canonical reference as containerd/CRI spell it: producer -> docker.io/library/producer:latest.
oc_image_ref() {
  local ref=$1 first=${1%%/*}
  if [[ "${ref}" != */* ]]; then
    ref="docker.io/library/${ref}"
  elif [[ "${first}" != *.* && "${first}" != *:* && "${first}" != localhost ]]; then
    ref="docker.io/${ref}"
  fi
  [[ "${ref##*/}" == *:* || "${ref}" == *@* ]] || ref+=":latest"
  echo "${ref}"
}

oc_docker_image_id() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null; }

# The docker image ID we imported last time, kept as a containerd label on the image.
oc_containerd_image_label() {
  "${OC_CTR[@]}" images ls "name==$1" 2>/dev/null | awk -v l="${OC_IMAGE_LABEL}=" 'NR > 1 {
    n = split($NF, kv, ","); for (i = 1; i <= n; i++) if (index(kv[i], l) == 1) print substr(kv[i], length(l) + 1) }'
}

# oc_load_image NAME — import unless containerd already holds this exact docker image.
oc_load_image() {
  local name=$1 id ref t0=${SECONDS}
  id=$(oc_docker_image_id "${name}") || die "load-image: image '${name}' not found in docker (docker images lists what exists)"
  ref=$(oc_image_ref "${name}")
  if [[ "$(oc_containerd_image_label "${ref}")" == "${id}" ]]; then
    log "image ${name}: already in containerd (${id:7:12})"
    return 0
  fi
  log "image ${name}: importing into containerd namespace k8s.io"
  docker save "${name}" | "${OC_CTR[@]}" images import - >/dev/null \
    || die "load-image: importing ${name} into containerd failed"
  "${OC_CTR[@]}" images label "${ref}" "${OC_IMAGE_LABEL}=${id}" >/dev/null \
    || die "load-image: ${ref} is not listed by containerd after import"
  oc_image_verify "${ref}"
  log "image ${name}: loaded as ${ref} in $((SECONDS - t0)) s"
}

# The kubelet sees images through the CRI; check there when crictl exists, else via ctr.
oc_image_verify() {
  local ref=$1
  if oc_crictl_bin >/dev/null 2>&1; then
    oc_crictl inspecti "${ref}" >/dev/null || die "load-image: CRI does not list ${ref} after import"
  else
    "${OC_CTR[@]}" images ls -q "name==${ref}" | grep -qx "${ref}" || die "load-image: ctr does not list ${ref}"
  fi
}

oc_load_images() {
  local name
  (($# > 0)) || die "usage: offline-cluster load-image NAME..."
  "${OC_CTR[@]}" version >/dev/null 2>&1 || die "load-image: containerd is not running (run: offline-cluster up)"
  docker version >/dev/null 2>&1 || die "load-image: dockerd is not answering on its default socket (run: offline-cluster up)"
  for name in "$@"; do oc_load_image "${name}"; done
}

# What every cluster needs before the first pod: the sandbox image, DNS, and the lab's emulator.
# OC_PRELOAD_IMAGES (space separated) overrides the list, e.g. to add the services' images.
oc_preload_images() {
  local images name
  read -r -a images <<<"${OC_PRELOAD_IMAGES:-${PAUSE_IMAGE} ${OC_COREDNS_IMAGE} ${LOCALSTACK_IMAGE}}"
  for name in "${images[@]}"; do
    oc_docker_image_id "${name}" >/dev/null || die "image ${name} is not in docker; run: offline-cluster build"
  done
  oc_load_images "${images[@]}"
}
