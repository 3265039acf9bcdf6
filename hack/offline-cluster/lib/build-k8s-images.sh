#!/usr/bin/env bash
# The images kubeadm pulls for K8S_VERSION, built from source and tagged exactly as kubeadm names them
# (`kubeadm config images list --kubernetes-version K8S_VERSION` is the one owner of that list):
# kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy, etcd, CoreDNS, pause.
# Why: kind and minikube nodes run kubeadm, and kubeadm starts the control plane from these tags; with no
# registry they must already be in the node. Sourced by build.sh after build-k8s.sh, build-etcd.sh,
# build-coredns.sh, build-pause.sh and build-images.sh.
set -euo pipefail

# Debian base with the iptables userland for kube-proxy (and other node-level helpers).
K8S_IPTABLES_BASE_IMAGE="lab/debian-iptables:${DEBIAN_PYTHON_SUITE}"

k8s_images_list() { "$(k8s_bin_dir)/kubeadm" config images list --kubernetes-version "${K8S_VERSION}"; }

# FROM-scratch image with BINARIES (paths) in /usr/local/bin: kube-apiserver/-controller-manager/-scheduler, etcd.
k8s_static_image_recipe() {
  local ref=$1 ctx
  ctx=$(mktemp -d)
  mkdir "${ctx}/bin"
  cp "${IMAGES_SRC}/k8s-static/Dockerfile" "${ctx}/"
  cp "${K8S_IMAGE_BINARIES[@]}" "${ctx}/bin/"
  image_docker_build "${ref}" "${ctx}"
  rm -rf "${ctx}"
}

# Build REF from K8S_IMAGE_BINARIES with RECIPE, cache key = recipe text + Dockerfile folder + binaries.
k8s_image_ensure() {
  local ref=$1 dir=$2 recipe=$3 key
  key="$(image_key "${ref}" "${IMAGES_SRC}/${dir}" "${recipe}")"
  key+="-$(cat "${K8S_IMAGE_BINARIES[@]}" | sha256sum | cut -c1-8)"
  image_ensure "${ref}" "${key}" "${recipe}"
}

k8s_iptables_base_recipe() {
  local ref=$1 root
  root=$(rootfs_tmp)
  rootfs_debootstrap "${DEBIAN_PYTHON_SUITE}" "${root}" iptables,conntrack,ipset,kmod,iproute2,ca-certificates
  rootfs_apt_sources "${root}" "${DEBIAN_PYTHON_SUITE}"
  rootfs_slim "${root}"
  rootfs_import "${root}" "${ref}" 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  rm -rf "${root}"
}

k8s_iptables_base_image() {
  image_ensure "${K8S_IPTABLES_BASE_IMAGE}" \
    "$(image_key "${K8S_IPTABLES_BASE_IMAGE}" "" k8s_iptables_base_recipe rootfs_apt_sources rootfs_slim)" \
    k8s_iptables_base_recipe
}

k8s_proxy_image_recipe() {
  local ref=$1 ctx
  ctx=$(mktemp -d)
  cp "${IMAGES_SRC}/kube-proxy/Dockerfile" "${IMAGES_SRC}/kube-proxy/iptables-wrapper" "${K8S_IMAGE_BINARIES[@]}" "${ctx}/"
  image_docker_build "${ref}" "${ctx}" --build-arg "BASE=${K8S_IPTABLES_BASE_IMAGE}"
  rm -rf "${ctx}"
  docker run --rm --privileged --entrypoint iptables-save "${ref}" >/dev/null \
    || die "k8s-images: iptables-save does not run in ${ref}"
}

# One image kubeadm asks for: REF -> what to build it from. Unknown refs fail the build.
k8s_image() {
  local ref=$1 repo=${1%:*} tag=${1##*:} bin
  bin=$(k8s_bin_dir)
  case "${repo}" in
    registry.k8s.io/kube-apiserver | registry.k8s.io/kube-controller-manager | registry.k8s.io/kube-scheduler)
      [[ "${tag}" == "${K8S_VERSION}" ]] || die "k8s-images: kubeadm asks for ${ref}, we build ${K8S_VERSION}"
      K8S_IMAGE_BINARIES=("${bin}/${repo##*/}")
      k8s_image_ensure "${ref}" k8s-static k8s_static_image_recipe ;;
    registry.k8s.io/kube-proxy)
      [[ "${tag}" == "${K8S_VERSION}" ]] || die "k8s-images: kubeadm asks for ${ref}, we build ${K8S_VERSION}"
      k8s_iptables_base_image
      K8S_IMAGE_BINARIES=("${bin}/kube-proxy")
      k8s_image_ensure "${ref}" kube-proxy k8s_proxy_image_recipe ;;
    registry.k8s.io/etcd)
      # kubeadm tags etcd as <version>-<image revision>; the binary is that exact upstream version.
      ETCD_VERSION="v${tag%-*}" etcd_build
      K8S_IMAGE_BINARIES=("${LAB_CACHE}/etcd-v${tag%-*}/bin/etcd" "${LAB_CACHE}/etcd-v${tag%-*}/bin/etcdctl")
      k8s_image_ensure "${ref}" k8s-static k8s_static_image_recipe ;;
    registry.k8s.io/coredns/coredns)
      [[ "${tag}" == "${COREDNS_VERSION}" ]] || die "k8s-images: kubeadm asks for ${ref}, versions.env pins ${COREDNS_VERSION}"
      coredns_image # the same build as the offline cluster's DNS, tagged the way kubeadm deploys it
      [[ "$(image_id "${ref}")" == "$(image_id "${COREDNS_IMAGE}")" ]] || docker tag "${COREDNS_IMAGE}" "${ref}" ;;
    registry.k8s.io/pause)
      [[ "${ref}" == "${PAUSE_IMAGE}" ]] || die "k8s-images: kubeadm asks for ${ref}, versions.env pins ${PAUSE_IMAGE}"
      pause_image ;;
    *) die "k8s-images: kubeadm ${K8S_VERSION} asks for ${ref}, which this build does not know how to make" ;;
  esac
}

# Every image of kubeadm's list present in Docker; their tags are written to ${LAB_CACHE}/k8s-images-<v>.txt.
k8s_images() {
  local refs ref list="${LAB_CACHE}/k8s-images-${K8S_VERSION}.txt"
  k8s_build # kubeadm (and everything else) from the cache, built only if missing
  mapfile -t refs < <(k8s_images_list)
  ((${#refs[@]} > 0)) || die "k8s-images: kubeadm config images list printed nothing"
  for ref in "${refs[@]}"; do k8s_image "${ref}"; done
  printf '%s\n' "${refs[@]}" >"${list}.tmp" && mv "${list}.tmp" "${list}"
  log "k8s-images: ${#refs[@]} images for kubeadm ${K8S_VERSION} present (list in ${list})"
}
