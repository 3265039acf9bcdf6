#!/usr/bin/env bash
# Build the pod sandbox image ${PAUSE_IMAGE} from the pause.c shipped in the Kubernetes module.
# Why: containerd's CRI needs the sandbox image locally and cannot pull it; the upstream image is
# just this static binary, so we compile the same source and tag the result exactly as
# ${PAUSE_IMAGE}. Sourced by ../offline-cluster; needs common.sh, build-k8s.sh, build-images.sh.
set -euo pipefail

pause_version() { echo "${PAUSE_IMAGE##*:}"; }
pause_bin() { echo "${LAB_CACHE}/pause-$(pause_version)/bin/pause"; }

pause_build() {
  local bin src
  bin=$(pause_bin)
  [[ -x "${bin}" ]] && return 0
  k8s_prepare_source
  src="$(k8s_src_dir)/build/pause/linux/pause.c"
  [[ -f "${src}" ]] || die "pause: ${src} not found in the Kubernetes source"
  mkdir -p "$(dirname "${bin}")"
  gcc -Os -Wall -Werror -static -DVERSION="v$(pause_version)-lab" -o "${bin}.tmp" "${src}" \
    || die "pause: gcc -static failed (needs gcc and libc6-dev)"
  strip "${bin}.tmp" && mv "${bin}.tmp" "${bin}"
  log "pause: built ${bin}"
}

pause_image_recipe() {
  local ref=$1 ctx
  ctx=$(mktemp -d)
  cp "${IMAGES_SRC}/pause/Dockerfile" "$(pause_bin)" "${ctx}/"
  image_docker_build "${ref}" "${ctx}"
  rm -rf "${ctx}"
  [[ "$(docker run --rm "${ref}" -v)" == *"v$(pause_version)"* ]] || die "pause: ${ref} does not run"
}

pause_image() {
  pause_build
  local key
  key="$(image_key "${PAUSE_IMAGE}" "${IMAGES_SRC}/pause" pause_image_recipe)"
  key+="-$(sha256sum "$(pause_bin)" | cut -c1-8)"
  image_ensure "${PAUSE_IMAGE}" "${key}" pause_image_recipe
}
