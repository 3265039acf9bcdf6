#!/usr/bin/env bash
# minikube's cache filled by `build`, so that `minikube start` (with the settings of env-minikube.sh) downloads
# nothing: the Kubernetes binaries where minikube looks first, the images it copies from the local Docker, and
# the extra images every node gets. Sourced by build-minikube.sh.
set -euo pipefail

# Images every minikube node gets on `minikube start` besides Kubernetes' own: the exercise's LocalStack, and the
# base image its Dockerfiles build FROM (`docker build` after `eval $(minikube docker-env)` builds in the node).
MINIKUBE_EXTRA_IMAGES=("${LOCALSTACK_IMAGE}" "${PYTHON_BASE_IMAGE}")

# minikube's own rule (localpath.MiniPath): MINIKUBE_HOME, with ".minikube" appended unless it already ends so.
minikube_home() {
  local home=${MINIKUBE_HOME:-${HOME}}
  [[ "${home##*/}" == .minikube ]] && echo "${home}" || echo "${home}/.minikube"
}

minikube_k8s_cache_dir() { echo "$(minikube_home)/cache/linux/amd64/${K8S_VERSION}"; }

# kubeadm/kubelet/kubectl where minikube looks before downloading (download.Binary: an existing file is used as
# is, without a checksum); replaced when the build's binary differs.
minikube_cache_k8s_binaries() {
  local dir src bin
  dir=$(minikube_k8s_cache_dir)
  mkdir -p "${dir}"
  for bin in kubeadm kubelet kubectl; do
    src="${LAB_CACHE}/k8s-${K8S_VERSION}/bin/${bin}"
    [[ -x "${src}" ]] || die "minikube: ${src} missing (run: offline-cluster build)"
    cmp -s "${src}" "${dir}/${bin}" || install -m 0755 "${src}" "${dir}/${bin}"
  done
  log "minikube: Kubernetes ${K8S_VERSION} binaries in ${dir}"
}

# The images minikube's bootstrapper loads into a new node: kubeadm's list for K8S_VERSION and the
# storage-provisioner addon. minikube copies them from the local Docker daemon into its cache, so they must be
# there, with exactly these tags.
minikube_node_images() {
  "${LAB_CACHE}/k8s-${K8S_VERSION}/bin/kubeadm" config images list --kubernetes-version "${K8S_VERSION}" 2>/dev/null
  minikube_provisioner_ref
}

minikube_require_images() {
  local ref missing=()
  for ref in $(minikube_node_images) "${MINIKUBE_EXTRA_IMAGES[@]}"; do
    docker image inspect "${ref}" >/dev/null 2>&1 || missing+=("${ref}")
  done
  ((${#missing[@]} == 0)) || die "minikube: not in the local Docker: ${missing[*]} (run: offline-cluster build)"
}

# minikube never refreshes a cached image tarball; drop those whose image differs from the one in the local Docker
# (a rebuilt image), so that the next start caches the current one. Image ID = the tarball's config digest.
minikube_drop_stale_cache() {
  local cache tar
  cache="$(minikube_home)/cache/images"
  [[ -d "${cache}" ]] || return 0
  find "${cache}" -type f ! -name '*.lock' -print0 | while IFS= read -r -d '' tar; do
    python3 - "${tar}" 2>/dev/null <<'EOF' && continue
import json, subprocess, sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    entry = json.load(t.extractfile("manifest.json"))[0]
local = subprocess.run(["docker", "image", "inspect", "-f", "{{.Id}}", entry["RepoTags"][0]],
                       capture_output=True, text=True).stdout.strip()
sys.exit(0 if local in ("", entry["Config"]) else 1)  # not in Docker at all: keep what minikube has
EOF
    log "minikube: dropping stale cached image ${tar}"
    rm -f "${tar}"
  done
}

# Warm build: every extra image is in minikube's "cache" list and its tarball exists (minikube's file name: the
# ref with ":" as "_"). `minikube cache add` would also load them into every running profile, which takes minutes.
minikube_extra_images_cached() {
  local ref
  for ref in "${MINIKUBE_EXTRA_IMAGES[@]}"; do
    [[ -f "$(minikube_home)/cache/images/amd64/${ref//:/_}" ]] || return 1
  done
  python3 - "$(minikube_home)/config/config.json" "${MINIKUBE_EXTRA_IMAGES[@]}" 2>/dev/null <<'EOF'
import json, sys
with open(sys.argv[1]) as f:
    cached = json.load(f).get("cache") or {}
sys.exit(0 if all(ref in cached for ref in sys.argv[2:]) else 1)
EOF
}

# Fill minikube's cache: Kubernetes binaries, and the extra images in minikube's "cache" list (`minikube cache
# add` records them in its config; every `minikube start` loads them into the node).
minikube_fill_cache() {
  minikube_cache_k8s_binaries
  minikube_require_images
  minikube_drop_stale_cache
  if minikube_extra_images_cached; then log "minikube: ${MINIKUBE_EXTRA_IMAGES[*]} cached for every node"; return 0; fi
  log "minikube: caching ${MINIKUBE_EXTRA_IMAGES[*]} for every node (minikube cache add)"
  MINIKUBE_ALL=true "$(minikube_bin_dir)/minikube" cache add "${MINIKUBE_EXTRA_IMAGES[@]}" >/dev/null 2>&1 \
    || die "minikube: minikube cache add ${MINIKUBE_EXTRA_IMAGES[*]} failed"
}
