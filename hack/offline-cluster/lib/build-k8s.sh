#!/usr/bin/env bash
# Build the pinned Kubernetes binaries from the k8s.io/kubernetes Go module: the offline cluster's
# host processes, and kubeadm for the kind/minikube node images (lib/build-k8s-images.sh).
# Why: no registry is reachable, so release tarballs and node images are out; the Go module
# proxy is. The module zip lacks ./staging, so its replaces are pointed at the published
# k8s.io/<name> v0.<minor>.<patch> modules. Sourced by ../offline-cluster; needs common.sh.
set -euo pipefail

k8s_components=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl kubeadm)

k8s_bin_dir() { echo "${LAB_CACHE}/k8s-${K8S_VERSION}/bin"; }

k8s_src_dir() { echo "${LAB_CACHE}/src/kubernetes-${K8S_VERSION}"; }

k8s_prepare_source() {
  local src mod staging
  src=$(k8s_src_dir)
  [[ -f "${src}/.prepared" ]] && return 0
  log "k8s: downloading k8s.io/kubernetes@${K8S_VERSION} from the Go module proxy"
  mod=$(go mod download -json "k8s.io/kubernetes@${K8S_VERSION}" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  [[ -d "${mod}" ]] || die "go mod download of k8s.io/kubernetes@${K8S_VERSION} gave no directory"
  rm -rf "${src}" && mkdir -p "$(dirname "${src}")"
  cp -r "${mod}" "${src}" && chmod -R u+w "${src}"
  rm -rf "${src}/vendor" "${src}/go.work" "${src}/go.work.sum"
  staging="v0.${K8S_VERSION#v1.}"
  sed -i -E "s#^(\s*k8s\.io/[a-z0-9-]+) => \./staging/src/k8s\.io/[a-z0-9-]+#\1 => \1 ${staging}#" "${src}/go.mod"
  grep -q '=> ./staging' "${src}/go.mod" && die "k8s: go.mod still points at ./staging"
  (cd "${src}" && go mod download) # fills go.sum entries for the staging replacements via -mod=mod
  touch "${src}/.prepared"
}

k8s_ldflags() {
  local minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  local pkg
  local flags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X ${pkg}.gitVersion=${K8S_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor}"
    flags+=" -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=1970-01-01T00:00:00Z"
  done
  echo "${flags}"
}

k8s_build() {
  local out c missing=()
  out=$(k8s_bin_dir)
  for c in "${k8s_components[@]}"; do [[ -x "${out}/${c}" ]] || missing+=("${c}"); done
  if ((${#missing[@]} == 0)); then log "k8s: ${K8S_VERSION} binaries cached in ${out}"; return 0; fi
  k8s_prepare_source
  mkdir -p "${out}"
  local pkgs=() t0=${SECONDS}
  for c in "${missing[@]}"; do pkgs+=("./cmd/${c}"); done
  log "k8s: building ${missing[*]} (cold: ~20-30 min on 2 cores; Go cache in ${GOCACHE})"
  (cd "$(k8s_src_dir)" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath \
    -ldflags "$(k8s_ldflags)" -o "${out}/" "${pkgs[@]}")
  log "k8s: built in $((SECONDS - t0)) s"
}
