#!/usr/bin/env bash
# `offline-cluster build`: everything `up` needs, built once and cached under ${LAB_CACHE} keyed by
# version, so a warm run only checks the cache (seconds). The Go builds are CPU-bound and the
# image builds mostly wait on downloads, so on a cold run the two groups run side by side.
# Sourced by ../offline-cluster after common.sh and runtime.sh; brings in the build-*.sh steps.
set -euo pipefail

# shellcheck source=build-images.sh
source "${OC_DIR}/lib/build-images.sh"
# shellcheck source=build-localstack.sh
source "${OC_DIR}/lib/build-localstack.sh"
# shellcheck source=build-k8s.sh
source "${OC_DIR}/lib/build-k8s.sh"
# shellcheck source=build-etcd.sh
source "${OC_DIR}/lib/build-etcd.sh"
# shellcheck source=build-coredns.sh
source "${OC_DIR}/lib/build-coredns.sh"
# shellcheck source=build-crictl.sh
source "${OC_DIR}/lib/build-crictl.sh"
# shellcheck source=build-pause.sh
source "${OC_DIR}/lib/build-pause.sh"
# shellcheck source=build-k8s-images.sh
source "${OC_DIR}/lib/build-k8s-images.sh"

# Further build steps (e.g. a provider's node image) live in lib/build-*.sh files that add
# "NAME FUNCTION" entries here; they run after the Kubernetes images, in file-name order.
# BUILD_EARLY_STEPS run before the first image that starts a container (right after the base images): what those
# containers need from the host, i.e. Docker's runtime that can start --privileged containers here (k8s-images'
# kube-proxy check runs one; on a fresh machine it failed when that step ran with the extras, 2026-12-02).
BUILD_EARLY_STEPS=()
BUILD_EXTRA_STEPS=()
build_source_extras() {
  local f
  for f in "${OC_DIR}"/lib/build-*.sh; do
    case "${f##*/}" in
      build-images.sh | build-localstack.sh | build-k8s.sh | build-etcd.sh | build-coredns.sh | build-crictl.sh \
        | build-pause.sh | build-k8s-images.sh) ;;
      *)
        # shellcheck source=/dev/null
        source "${f}" ;;
    esac
  done
}
build_source_extras

# Run one step and record its duration: build_step NAME FUNCTION [ARGS...]
build_step() {
  local name=$1 t0=${SECONDS}
  shift
  "$@"
  printf '%s\t%s\n' "${name}" "$((SECONDS - t0))" >>"${BUILD_TIMES}"
}

build_go_binaries() {
  build_step kubernetes k8s_build
  build_step etcd etcd_build
  build_step coredns-binary coredns_build
  build_step crictl crictl_build
  build_step kind kind_build
}

# The debootstrapped bases of the kind node and of kube-proxy wait on downloads too: this group.
build_base_images() {
  build_step python-base-image python_base_image
  build_step localstack-image localstack_image
  build_step iptables-base-image k8s_iptables_base_image
  build_step kind-base-image kind_base_image
}

# Run both groups as background jobs (so `set -e` still applies inside them); fail if either does.
build_parallel() {
  local go_pid images_pid go_rc=0 images_rc=0
  build_go_binaries &
  go_pid=$!
  build_base_images &
  images_pid=$!
  wait "${images_pid}" || images_rc=$?
  wait "${go_pid}" || go_rc=$?
  ((go_rc == 0)) || die "build: a Go build step failed (see the messages above)"
  ((images_rc == 0)) || die "build: a base image step failed (see the messages above)"
}

build_summary() {
  local total=$1
  log "build: done in ${total} s — per step (s):"
  sort -k2 -n -r "${BUILD_TIMES}" | while IFS=$'\t' read -r name secs; do
    printf '  %-20s %6s\n' "${name}" "${secs}" >&2
  done
  local ref
  for ref in "${PAUSE_IMAGE}" "${COREDNS_IMAGE}" "${PYTHON_BASE_IMAGE}" "${LOCALSTACK_IMAGE}"; do
    docker image inspect -f '{{.Size}}' "${ref}" | awk -v ref="${ref}" '{printf "  %-36s %8.1f MB\n", ref, $1 / 1e6}' >&2
  done
}

build_all() {
  local t0=${SECONDS}
  BUILD_TIMES=$(mktemp)
  build_step host-packages runtime_install
  if ! runtime_docker_ready >/dev/null 2>&1; then build_step docker-start runtime_start; fi
  if [[ "${BUILD_PARALLEL:-1}" == 1 ]]; then
    build_parallel
  else
    build_go_binaries
    build_base_images
  fi
  local extra
  for extra in "${BUILD_EARLY_STEPS[@]}"; do
    # shellcheck disable=SC2086 # "NAME FUNCTION" splits into the step's name and function
    build_step ${extra}
  done
  build_step pause-image pause_image
  build_step coredns-image coredns_image
  build_step k8s-images k8s_images
  for extra in "${BUILD_EXTRA_STEPS[@]}"; do
    # shellcheck disable=SC2086 # "NAME FUNCTION" splits into the step's name and function
    build_step ${extra}
  done
  build_summary "$((SECONDS - t0))"
  rm -f "${BUILD_TIMES}"
}
