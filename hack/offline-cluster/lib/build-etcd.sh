#!/usr/bin/env bash
# Build the pinned etcd server and etcdctl from their Go modules.
# Why from source: Debian's etcd 3.4 is below what Kubernetes 1.34 documents, and no release
# tarball is reachable. `go install module@version` refuses modules with replace directives,
# and etcd's point at sibling directories (../api, ../client/v3) absent from the module zip, so
# each module is copied, those replaces are dropped (go.mod already requires the same
# published versions) and it is built in place. Sourced by ../offline-cluster; needs common.sh.
# Two versions are built: ETCD_VERSION runs the offline cluster; kubeadm's own etcd image needs the
# version kubeadm names (lib/build-k8s-images.sh calls `ETCD_VERSION=<that> etcd_build`).
set -euo pipefail

etcd_bin_dir() { echo "${LAB_CACHE}/etcd-${ETCD_VERSION}/bin"; }

# Copy MODULE@ETCD_VERSION into the cache and drop its directory replaces; prints the copy's path.
etcd_prepare_module() {
  local module=$1 name src mod
  name=$(basename "$(dirname "${module}")")
  src="${LAB_CACHE}/src/etcd-${name}-${ETCD_VERSION}"
  if [[ ! -f "${src}/.prepared" ]]; then
    mod=$(go mod download -json "${module}@${ETCD_VERSION}" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
    [[ -d "${mod}" ]] || die "etcd: go mod download of ${module}@${ETCD_VERSION} gave no directory"
    rm -rf "${src}" && mkdir -p "$(dirname "${src}")"
    cp -r "${mod}" "${src}" && chmod -R u+w "${src}"
    etcd_drop_local_replaces "${src}"
    touch "${src}/.prepared"
  fi
  echo "${src}"
}

# Remove every replace whose target is a local directory (../api, ./FORBIDDEN_DEPENDENCY).
etcd_drop_local_replaces() {
  local src=$1 old
  sed -nE 's/^[[:space:]]*(replace[[:space:]]+)?([^[:space:]]+)[[:space:]]+=>[[:space:]]+\..*/\2/p' "${src}/go.mod" \
    | while read -r old; do (cd "${src}" && go mod edit -dropreplace="${old}"); done
  grep -q '=> \.' "${src}/go.mod" && die "etcd: ${src}/go.mod still has a local replace"
  return 0
}

etcd_build_one() {
  local module=$1 binary=$2 out src t0=${SECONDS}
  out=$(etcd_bin_dir)
  [[ -x "${out}/${binary}" ]] && return 0
  src=$(etcd_prepare_module "${module}")
  log "etcd: building ${binary} ${ETCD_VERSION} from ${module}"
  mkdir -p "${out}"
  (cd "${src}" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod go build -trimpath \
    -ldflags "-s -w" -o "${out}/${binary}.tmp" .) || die "etcd: go build of ${binary} failed"
  mv "${out}/${binary}.tmp" "${out}/${binary}"
  log "etcd: ${binary} built in $((SECONDS - t0)) s"
}

etcd_build() {
  etcd_build_one go.etcd.io/etcd/server/v3 etcd
  etcd_build_one go.etcd.io/etcd/etcdctl/v3 etcdctl
  local got
  got=$("$(etcd_bin_dir)/etcd" --version | sed -n 's/^etcd Version: //p')
  [[ "v${got}" == "${ETCD_VERSION}" ]] || die "etcd: built binary reports ${got}, expected ${ETCD_VERSION}"
  log "etcd: ${ETCD_VERSION} ready in $(etcd_bin_dir)"
}
