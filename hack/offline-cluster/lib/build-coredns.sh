#!/usr/bin/env bash
# Build CoreDNS from its Go module (static, no cgo) and wrap it in a FROM-scratch image.
# Why: the cluster DNS addon image cannot be pulled; running CoreDNS as a pod from our own image
# keeps kube-system DNS as real as on any cluster. Sourced by ../offline-cluster; needs common.sh
# and build-images.sh.
set -euo pipefail

COREDNS_IMAGE="lab/coredns:${COREDNS_VERSION}"

coredns_bin() { echo "${LAB_CACHE}/coredns-${COREDNS_VERSION}/bin/coredns"; }

coredns_build() {
  local bin t0=${SECONDS} got
  bin=$(coredns_bin)
  if [[ ! -x "${bin}" ]]; then
    log "coredns: building ${COREDNS_VERSION} from github.com/coredns/coredns"
    mkdir -p "$(dirname "${bin}")"
    GOBIN="$(dirname "${bin}")" CGO_ENABLED=0 GOTOOLCHAIN=local go install -trimpath \
      -ldflags "-s -w -X github.com/coredns/coredns/coremain.GitCommit=${COREDNS_VERSION}" \
      "github.com/coredns/coredns@${COREDNS_VERSION}" || die "coredns: go install failed"
    log "coredns: built in $((SECONDS - t0)) s"
  fi
  got=$("${bin}" -version | sed -n 's/^CoreDNS-//p')
  [[ "v${got}" == "${COREDNS_VERSION}" ]] || die "coredns: ${bin} reports ${got}, expected ${COREDNS_VERSION}"
}

coredns_image_recipe() {
  local ref=$1 ctx
  ctx=$(mktemp -d)
  cp "${IMAGES_SRC}/coredns/Dockerfile" "$(coredns_bin)" "${ctx}/"
  image_docker_build "${ref}" "${ctx}"
  rm -rf "${ctx}"
  [[ "$(docker run --rm "${ref}" -version)" == *"CoreDNS-${COREDNS_VERSION#v}"* ]] \
    || die "coredns: ${ref} does not run"
}

coredns_image() {
  coredns_build
  local key
  key="$(image_key "${COREDNS_IMAGE}" "${IMAGES_SRC}/coredns" coredns_image_recipe)"
  key+="-$(sha256sum "$(coredns_bin)" | cut -c1-8)"
  image_ensure "${COREDNS_IMAGE}" "${key}" coredns_image_recipe
}
