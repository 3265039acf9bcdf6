#!/usr/bin/env bash
# The "minikube" section of `offline-cluster env`: NAME=VALUE lines (PATH_PREFIX = directories to put first on
# PATH) that make a plain `minikube start` work without a registry. minikube reads any flag from
# MINIKUBE_<FLAG>, so no command line changes: the node image is the locally built lab/kicbase, the preload
# tarball and the update check (internet) are off, the container runtime is docker (what the exercise's
# `eval $(minikube docker-env)` needs), and as root --force, since minikube refuses the docker driver as root
# otherwise. Sourced by ../offline-cluster (env) and build-minikube.sh.
set -euo pipefail

# Where `build` puts the minikube binary.
minikube_bin_dir() { echo "${LAB_CACHE}/minikube-${MINIKUBE_VERSION}/bin"; }

minikube_node_ref() { echo "lab/kicbase:${MINIKUBE_VERSION}"; }

env_minikube() {
  echo "MINIKUBE_DRIVER=docker"
  echo "MINIKUBE_CONTAINER_RUNTIME=docker"
  echo "MINIKUBE_KUBERNETES_VERSION=${K8S_VERSION}"
  echo "MINIKUBE_BASE_IMAGE=$(minikube_node_ref)"
  echo "MINIKUBE_PRELOAD=false"
  echo "MINIKUBE_WANTUPDATENOTIFICATION=false"
  if ((EUID == 0)); then echo "MINIKUBE_FORCE=true"; fi
  # minikube, and the kubectl built for K8S_VERSION (a distant host kubectl warns about version skew).
  echo "PATH_PREFIX=$(minikube_bin_dir):${LAB_CACHE}/k8s-${K8S_VERSION}/bin"
}
