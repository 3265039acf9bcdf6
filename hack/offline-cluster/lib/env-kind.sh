#!/usr/bin/env bash
# What `offline-cluster env` exports for kind: the kind binary and kubectl first on PATH, and
# LAB_KIND_NODE_IMAGE, the node image lib/build-kind.sh makes. The tag is the one pytest-kubernetes' kind
# provider asks for (`--k8s-version 1.34.12` -> `--image kindest/node:v1.34.12`), so the plugin finds it too.
# Sourced by ../offline-cluster (env) and build-kind.sh; needs common.sh.
set -euo pipefail

KIND_NODE_IMAGE="kindest/node:${K8S_VERSION}"
# shellcheck disable=SC2034 # used by build-kind.sh
KIND_PODNET_IMAGE="lab/podnet:${K8S_VERSION}" # the node image's default CNI (images/podnet)

kind_bin() { echo "${LAB_CACHE}/kind-${KIND_VERSION}/bin/kind"; }

# env_kind: NAME=VALUE lines (PATH_PREFIX is prepended to PATH); nothing when kind is not built.
env_kind() {
  [[ -x "$(kind_bin)" ]] || return 0
  echo "PATH_PREFIX=$(dirname "$(kind_bin)"):${LAB_CACHE}/k8s-${K8S_VERSION}/bin"
  echo "LAB_KIND_NODE_IMAGE=${KIND_NODE_IMAGE}"
}
