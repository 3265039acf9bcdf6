#!/usr/bin/env bash
# minikube's node image for the docker driver (what `--base-image` names), built without a registry:
# a debootstrapped Debian ${DEBIAN_KICBASE_SUITE} root filesystem, then images/kicbase/Dockerfile on top with
# Debian's systemd, sshd, Docker and containerd, plus cri-dockerd and crictl built here. minikube's own
# entrypoint and sysctl files are taken from the k8s.io/minikube module at build time (not copied into the
# repo), so they always match the minikube binary. Sourced by build-minikube.sh.
set -euo pipefail

MINIKUBE_NODE_ROOTFS_IMAGE="lab/debian:${DEBIAN_KICBASE_SUITE}"

minikube_node_rootfs_recipe() {
  local ref=$1 root
  root=$(rootfs_tmp)
  rootfs_debootstrap "${DEBIAN_KICBASE_SUITE}" "${root}" ca-certificates
  rootfs_apt_sources "${root}" "${DEBIAN_KICBASE_SUITE}"
  rootfs_trust_host_cas "${root}"
  rootfs_slim "${root}"
  rootfs_import "${root}" "${ref}" 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    'ENV LANG=C.UTF-8' 'CMD ["bash"]'
  rm -rf "${root}"
}

# minikube's deploy/kicbase folder and cri-dockerd's systemd units, from the module cache.
minikube_kicbase_dir() {
  local dir
  read -r dir _ < <(go_module_info "${MINIKUBE_MODULE}@${MINIKUBE_VERSION}")
  echo "${dir}/deploy/kicbase"
}

minikube_version_json() {
  local dir commit
  read -r dir commit < <(go_module_info "${MINIKUBE_MODULE}@${MINIKUBE_VERSION}")
  printf '{"iso_version": "%s", "kicbase_version": "%s", "minikube_version": "%s", "commit": "%s"}' \
    "$(minikube_makefile_var "${dir}" ISO_VERSION)" \
    "$(sed -nE 's/^[[:space:]]*Version = "([^"]+)"/\1/p' "${dir}/pkg/drivers/kic/types.go")" \
    "${MINIKUBE_VERSION}" "${commit}"
}

minikube_node_recipe() {
  local ref=$1 ctx kicbase units
  kicbase=$(minikube_kicbase_dir)
  read -r units _ < <(go_module_info "${CRI_DOCKERD_MODULE}@${CRI_DOCKERD_VERSION}")
  units="${units}/packaging/systemd"
  ctx=$(mktemp -d)
  cp "${IMAGES_SRC}/kicbase/"* "${ctx}/"
  cp "${kicbase}/entrypoint" "${kicbase}/10-network-security.conf" "${kicbase}/11-tcp-mtu-probing.conf" "${ctx}/"
  cp "${units}/cri-docker.service" "${units}/cri-docker.socket" "${ctx}/"
  cp "$(cri_dockerd_bin)" "$(crictl_bin)" "${ctx}/"
  chmod -R u+w "${ctx}"
  log "images: docker build ${ref} (Debian ${DEBIAN_KICBASE_SUITE} + systemd, sshd, docker, cri-dockerd; a few minutes)"
  image_docker_build "${ref}" "${ctx}" --build-arg "BASE=${MINIKUBE_NODE_ROOTFS_IMAGE}" \
    --build-arg "VERSION_JSON=$(minikube_version_json)"
  rm -rf "${ctx}"
  minikube_node_smoke_test "${ref}"
}

# The image must have what minikube drives over ssh/docker exec: systemd, sshd, sudo, docker, cri-dockerd.
minikube_node_smoke_test() {
  local ref=$1
  docker run --rm --entrypoint /bin/bash "${ref}" -c '
    set -e
    test -x /lib/systemd/systemd && test -x /usr/sbin/sshd && id docker | grep -q sudo
    sudo -n -u docker sudo -n true
    dockerd --version && containerd --version && cri-dockerd --version 2>&1 && crictl --version
    for t in conntrack iptables ip ethtool socat ebtables; do command -v "$t" >/dev/null; done
    test "$(command -v runc)" = /usr/local/sbin/runc && test -x /usr/bin/dockerd
    test -x /opt/cni/bin/bridge && test -x /opt/cni/bin/portmap && test -x /opt/cni/bin/host-local
    systemctl is-enabled ssh.service docker.service containerd.service cri-docker.socket
  ' >"${LAB_CACHE}/logs/minikube-node-smoke.log" 2>&1 \
    || die "images: ${ref} lacks what minikube needs; see ${LAB_CACHE}/logs/minikube-node-smoke.log"
}

minikube_node_image() {
  image_ensure "${MINIKUBE_NODE_ROOTFS_IMAGE}" \
    "$(image_key "${MINIKUBE_NODE_ROOTFS_IMAGE}" "" minikube_node_rootfs_recipe rootfs_apt_sources \
      rootfs_trust_host_cas rootfs_slim)-${DEBIAN_KICBASE_SUITE}" minikube_node_rootfs_recipe
  local key ref
  ref=$(minikube_node_ref)
  key="$(image_key "${ref}" "${IMAGES_SRC}/kicbase" minikube_node_recipe minikube_node_smoke_test)"
  key+="-$(cat "$(cri_dockerd_bin)" "$(crictl_bin)" "$(minikube_kicbase_dir)/entrypoint" | sha256sum | cut -c1-8)"
  image_ensure "${ref}" "${key}" minikube_node_recipe
}
