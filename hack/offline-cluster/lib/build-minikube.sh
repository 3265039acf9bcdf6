#!/usr/bin/env bash
# minikube without a registry: the real minikube binary built from its Go module (with the ldflags its
# Makefile sets), the storage-provisioner addon image and cri-dockerd (minikube's docker runtime) built from
# source, a kicbase-like node image (lib/build-minikube-node.sh) and minikube's own cache filled from them
# (lib/minikube.sh). Why: `minikube start` pulls its node image, the Kubernetes binaries and images; none of
# that is reachable here, but everything minikube takes from its cache or the local Docker daemon can be made.
# Sourced by build.sh (after build-k8s.sh, build-crictl.sh, build-images.sh); cached in ${LAB_CACHE} by version.
set -euo pipefail

# shellcheck source=build-minikube-node.sh
source "${OC_DIR}/lib/build-minikube-node.sh"
# shellcheck source=env-minikube.sh
source "${OC_DIR}/lib/env-minikube.sh"
# shellcheck source=minikube.sh
source "${OC_DIR}/lib/minikube.sh"

MINIKUBE_MODULE=k8s.io/minikube
CRI_DOCKERD_MODULE=github.com/Mirantis/cri-dockerd

cri_dockerd_bin() { echo "${LAB_CACHE}/cri-dockerd-${CRI_DOCKERD_VERSION}/bin/cri-dockerd"; }

# `go mod download -json MODULE@VERSION` -> "DIR COMMIT" (the module's folder in the module cache and the
# commit its tag points at, from the proxy's Origin record).
go_module_info() {
  go mod download -json "$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
if "Error" in d:
    sys.exit(d["Error"])
print(d["Dir"], d.get("Origin", {}).get("Hash", "unknown"))' || die "minikube: go mod download $1 failed"
}

# A `NAME ?= value` assignment from minikube's Makefile (the one owner of ISO_VERSION and the provisioner tag).
minikube_makefile_var() {
  local dir=$1 name=$2 value
  value=$(sed -nE "s/^${name}[[:space:]]*\?=[[:space:]]*(.*)$/\1/p" "${dir}/Makefile" | head -n1)
  [[ -n "${value}" ]] || die "minikube: ${name} not found in ${dir}/Makefile"
  echo "${value}"
}

# The Makefile's MINIKUBE_LDFLAGS: without storageProvisionerVersion the addon's image tag would be empty.
minikube_ldflags() {
  local dir=$1 commit=$2
  printf '%s ' \
    "-X k8s.io/minikube/pkg/version.version=${MINIKUBE_VERSION}" \
    "-X k8s.io/minikube/pkg/version.isoVersion=$(minikube_makefile_var "${dir}" ISO_VERSION)" \
    "-X k8s.io/minikube/pkg/version.gitCommitID=${commit}" \
    "-X k8s.io/minikube/pkg/version.storageProvisionerVersion=$(minikube_makefile_var "${dir}" STORAGE_PROVISIONER_TAG)"
}

# minikube and storage-provisioner, built inside the module's folder: `go install module@version` asks the
# proxy for the module's version list (for deprecations), which this proxy refuses for k8s.io/minikube.
minikube_build() {
  local out dir commit t0=${SECONDS}
  out=$(minikube_bin_dir)
  if [[ ! -x "${out}/minikube" || ! -x "${out}/storage-provisioner" ]]; then
    read -r dir commit < <(go_module_info "${MINIKUBE_MODULE}@${MINIKUBE_VERSION}")
    mkdir -p "${out}"
    log "minikube: building ${MINIKUBE_VERSION} (${commit:0:12}) from ${MINIKUBE_MODULE} (cold: ~10 min on 2 cores)"
    (cd "${dir}" && CGO_ENABLED=1 GOTOOLCHAIN=local nice -n 10 go build -trimpath -tags libvirt_dlopen \
      -ldflags "$(minikube_ldflags "${dir}" "${commit}")" -o "${out}/minikube.tmp" ./cmd/minikube) \
      || die "minikube: go build failed"
    (cd "${dir}" && CGO_ENABLED=0 GOTOOLCHAIN=local nice -n 10 go build -trimpath -ldflags \
      "-s -w -X k8s.io/minikube/pkg/storage.version=$(minikube_makefile_var "${dir}" STORAGE_PROVISIONER_TAG)" \
      -o "${out}/storage-provisioner" ./cmd/storage-provisioner) || die "minikube: storage-provisioner build failed"
    mv "${out}/minikube.tmp" "${out}/minikube"
    log "minikube: built in $((SECONDS - t0)) s"
  fi
  "${out}/minikube" version --short 2>/dev/null | grep -qx "${MINIKUBE_VERSION}" \
    || die "minikube: ${out}/minikube does not report ${MINIKUBE_VERSION}"
}

# The storage-provisioner addon image minikube enables by default, from minikube's own Dockerfile.
# Its ref as the binary names it (a table row: name | image | registry), so a binary built without the
# Makefile's storageProvisionerVersion fails here instead of in the node.
minikube_provisioner_ref() {
  "$(minikube_bin_dir)/minikube" addons images storage-provisioner 2>/dev/null \
    | awk -F'│' '$3 ~ /storage-provisioner:/ { gsub(/ /, ""); print $4 "/" $3; exit }'
}

minikube_provisioner_recipe() {
  local ref=$1 ctx dir
  read -r dir _ < <(go_module_info "${MINIKUBE_MODULE}@${MINIKUBE_VERSION}")
  ctx=$(mktemp -d)
  mkdir "${ctx}/out"
  cp "${dir}/deploy/storage-provisioner/Dockerfile" "${ctx}/"
  cp "$(minikube_bin_dir)/storage-provisioner" "${ctx}/out/storage-provisioner-amd64"
  image_docker_build "${ref}" "${ctx}" --build-arg arch=amd64
  rm -rf "${ctx}"
}

minikube_provisioner_image() {
  local ref key
  ref=$(minikube_provisioner_ref)
  [[ "${ref}" == *:v* ]] || die "minikube: no storage-provisioner image tag (built without the Makefile's ldflags?)"
  key="$(image_key "${ref}" "" minikube_provisioner_recipe)"
  key+="-$(sha256sum "$(minikube_bin_dir)/storage-provisioner" | cut -c1-8)"
  image_ensure "${ref}" "${key}" minikube_provisioner_recipe
}

# cri-dockerd: its go.mod has replace directives, so `go install module@version` refuses it; it builds as the main
# module inside a copy of its module folder (the module zip carries only part of its vendor/ folder, so that is
# dropped and the dependencies come from the module proxy like any other).
cri_dockerd_build() {
  local bin dir commit src t0=${SECONDS}
  bin=$(cri_dockerd_bin)
  if [[ ! -x "${bin}" ]]; then
    read -r dir commit < <(go_module_info "${CRI_DOCKERD_MODULE}@${CRI_DOCKERD_VERSION}")
    src="${LAB_CACHE}/src/cri-dockerd-${CRI_DOCKERD_VERSION}"
    if [[ ! -f "${src}/.prepared" ]]; then
      rm -rf "${src}" && mkdir -p "${src%/*}"
      cp -r "${dir}" "${src}" && chmod -R u+w "${src}" && rm -rf "${src}/vendor"
      touch "${src}/.prepared"
    fi
    mkdir -p "$(dirname "${bin}")"
    log "cri-dockerd: building ${CRI_DOCKERD_VERSION} from ${CRI_DOCKERD_MODULE}"
    (cd "${src}" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod nice -n 10 go build -trimpath -ldflags \
      "-s -w -X ${CRI_DOCKERD_MODULE}/cmd/version.Version=${CRI_DOCKERD_VERSION#v} \
       -X ${CRI_DOCKERD_MODULE}/cmd/version.GitCommit=${commit:0:7}" -o "${bin}.tmp" .) \
      || die "cri-dockerd: go build failed"
    mv "${bin}.tmp" "${bin}"
    log "cri-dockerd: built in $((SECONDS - t0)) s"
  fi
  [[ "$("${bin}" --version 2>&1)" == *"${CRI_DOCKERD_VERSION#v}"* ]] \
    || die "cri-dockerd: ${bin} does not report ${CRI_DOCKERD_VERSION}"
}

# kubeadm, kubelet, kubectl for the node (minikube runs `kubeadm init` inside it): the same source and cache
# folder as the offline cluster's binaries; k8s_build builds only what is missing there.
minikube_kubeadm() {
  # shellcheck disable=SC2034 # read by k8s_build (dynamic scope)
  local k8s_components=(kubeadm kubelet kubectl)
  k8s_build
}

# Everything `minikube start` needs, in dependency order ("NAME FUNCTION", each timed by build_step). The kind
# branch's build.sh runs BUILD_EXTRA_STEPS after its Kubernetes images; until that is merged, build.sh calls
# minikube_build_all (drop that call when BUILD_EXTRA_STEPS exists, or the steps run twice, the second time warm).
MINIKUBE_BUILD_STEPS=(
  "minikube-binaries minikube_build"
  "cri-dockerd cri_dockerd_build"
  "minikube-kubeadm minikube_kubeadm"
  "minikube-provisioner-image minikube_provisioner_image"
  "minikube-node-image minikube_node_image"
  "minikube-cache minikube_fill_cache"
)
BUILD_EXTRA_STEPS+=("${MINIKUBE_BUILD_STEPS[@]}")

minikube_build_all() {
  local entry
  for entry in "${MINIKUBE_BUILD_STEPS[@]}"; do
    # shellcheck disable=SC2086 # "NAME FUNCTION" splits into the two arguments of build_step
    build_step ${entry}
  done
}
