#!/usr/bin/env bash
# Build Toxiproxy (server and CLI) from its Go module and wrap them in a non-root image.
# Why: the network faults of the fault catalogue (issue 9) put Toxiproxy between the services and
# LocalStack; no registry is reachable, so the image is made here like CoreDNS's, from the same
# pinned module the Go module proxy serves. The Go build runs under `nice` because the lab's
# machines are shared and it is CPU-bound. Sourced by ../offline-cluster; needs common.sh and
# build-images.sh (the image step also needs the python:3.11-slim stand-in as its base).
set -euo pipefail

TOXIPROXY_IMAGE="lab/toxiproxy:${TOXIPROXY_VERSION}"
TOXIPROXY_MODULE=github.com/Shopify/toxiproxy/v2

toxiproxy_bin_dir() { echo "${LAB_CACHE}/toxiproxy-${TOXIPROXY_VERSION}/bin"; }

# The binary's own version line, e.g. "toxiproxy-server version 2.5.0".
toxiproxy_check() {
  local got
  got=$("$(toxiproxy_bin_dir)/toxiproxy-server" -version)
  [[ "${got}" == "toxiproxy-server version ${TOXIPROXY_VERSION#v}" ]] \
    || die "toxiproxy: $(toxiproxy_bin_dir)/toxiproxy-server reports '${got}', expected ${TOXIPROXY_VERSION}"
}

toxiproxy_build() {
  local dir t0=${SECONDS}
  dir=$(toxiproxy_bin_dir)
  if [[ ! -x "${dir}/toxiproxy-server" || ! -x "${dir}/toxiproxy-cli" ]]; then
    log "toxiproxy: building ${TOXIPROXY_VERSION} from ${TOXIPROXY_MODULE} (nice)"
    mkdir -p "${dir}"
    GOBIN="${dir}" CGO_ENABLED=0 GOTOOLCHAIN=local nice -n 10 go install -trimpath \
      -ldflags "-s -w -X ${TOXIPROXY_MODULE}.Version=${TOXIPROXY_VERSION#v}" \
      "${TOXIPROXY_MODULE}/cmd/server@${TOXIPROXY_VERSION}" "${TOXIPROXY_MODULE}/cmd/cli@${TOXIPROXY_VERSION}" \
      || die "toxiproxy: go install failed"
    # go install names binaries after their package folders (server, cli); keep upstream's names.
    mv "${dir}/server" "${dir}/toxiproxy-server"
    mv "${dir}/cli" "${dir}/toxiproxy-cli"
    log "toxiproxy: built in $((SECONDS - t0)) s"
  fi
  toxiproxy_check
}

toxiproxy_image_recipe() {
  local ref=$1 ctx
  ctx=$(mktemp -d)
  cp "${IMAGES_SRC}/toxiproxy/Dockerfile" "$(toxiproxy_bin_dir)/toxiproxy-server" "$(toxiproxy_bin_dir)/toxiproxy-cli" \
    "${ctx}/"
  image_docker_build "${ref}" "${ctx}"
  rm -rf "${ctx}"
  # The same constraints as the Deployment: non-root uid, read-only root, no capabilities.
  [[ "$(docker run --rm --read-only --user 10001 --cap-drop ALL "${ref}" -version)" \
    == "toxiproxy-server version ${TOXIPROXY_VERSION#v}" ]] || die "toxiproxy: ${ref} does not run"
}

toxiproxy_image() {
  toxiproxy_build
  local key
  key="$(image_key "${TOXIPROXY_IMAGE}" "${IMAGES_SRC}/toxiproxy" toxiproxy_image_recipe)"
  key+="-$(cat "$(toxiproxy_bin_dir)"/toxiproxy-server "$(toxiproxy_bin_dir)"/toxiproxy-cli | sha256sum | cut -c1-8)"
  image_ensure "${TOXIPROXY_IMAGE}" "${key}" toxiproxy_image_recipe
}

# Registered with build.sh: runs after the Kubernetes images (needs the python:3.11-slim stand-in).
BUILD_EXTRA_STEPS+=("toxiproxy-image toxiproxy_image")
