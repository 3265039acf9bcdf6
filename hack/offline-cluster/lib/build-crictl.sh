#!/usr/bin/env bash
# Build crictl (the CRI command-line client) from the sigs.k8s.io/cri-tools Go module.
# Why: Debian bookworm has no cri-tools package, and `down`/`load-image` talk to the CRI with it
# (pods removed with their CNI teardown, images checked the way the kubelet sees them).
# Sourced by ../offline-cluster; needs common.sh.
set -euo pipefail

crictl_bin() { echo "${LAB_CACHE}/cri-tools-${CRICTL_VERSION}/bin/crictl"; }

crictl_build() {
  local bin t0=${SECONDS}
  bin=$(crictl_bin)
  if [[ ! -x "${bin}" ]]; then
    log "crictl: building ${CRICTL_VERSION} from sigs.k8s.io/cri-tools"
    mkdir -p "$(dirname "${bin}")"
    GOBIN="$(dirname "${bin}")" CGO_ENABLED=0 GOTOOLCHAIN=local go install -trimpath \
      -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=${CRICTL_VERSION}" \
      "sigs.k8s.io/cri-tools/cmd/crictl@${CRICTL_VERSION}" || die "crictl: go install failed"
    log "crictl: built in $((SECONDS - t0)) s"
  fi
  [[ "$("${bin}" --version)" == *"${CRICTL_VERSION}"* ]] || die "crictl: ${bin} does not report ${CRICTL_VERSION}"
}
