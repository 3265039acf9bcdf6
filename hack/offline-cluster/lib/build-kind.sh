#!/usr/bin/env bash
# kind without a registry: the real kind binary from its Go module, and a node image made the way
# `kind build node-image` makes one (which cannot run here: it pulls etcd, CoreDNS, pause, kindnetd and
# local-path images). kind's base image files (entrypoint, systemd units, containerd config) are read
# from the kind module at build time; the base userland is Debian bookworm from debootstrap, since
# trixie's systemd does not boot on a cgroup v1 host. Sourced by build.sh (it adds the build steps); the node
# image's own functions are in build-kind-node.sh.
set -euo pipefail

# shellcheck source=build-kind-node.sh
source "${OC_DIR}/lib/build-kind-node.sh"
# shellcheck source=env-kind.sh
source "${OC_DIR}/lib/env-kind.sh"
KIND_BASE_IMAGE="lab/kind-base:${DEBIAN_PYTHON_SUITE}"
# What the node's userland needs: kind's base Dockerfile list, with Debian's containerd, runc and CNI plugins
# instead of kind's own builds of them (nfs/iscsi/fuse packages left out: the lab uses no such volumes).
KIND_BASE_PACKAGES=systemd,dbus,conntrack,iptables,nftables,iproute2,ethtool,util-linux,mount,kmod,libseccomp2,pigz
KIND_BASE_PACKAGES+=,e2fsprogs,bash,ca-certificates,curl,jq,procps,containerd,runc,containernetworking-plugins

kind_module_dir() {
  local dir
  dir=$(go mod download -json "sigs.k8s.io/kind@${KIND_VERSION}" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  [[ -d "${dir}/images/base/files" ]] || die "kind: sigs.k8s.io/kind@${KIND_VERSION} has no images/base/files"
  echo "${dir}"
}

kind_build() {
  local bin t0=${SECONDS}
  bin=$(kind_bin)
  if [[ ! -x "${bin}" ]]; then
    log "kind: building ${KIND_VERSION} from sigs.k8s.io/kind"
    mkdir -p "$(dirname "${bin}")"
    GOBIN="$(dirname "${bin}")" CGO_ENABLED=0 GOTOOLCHAIN=local nice go install -trimpath -ldflags "-s -w" \
      "sigs.k8s.io/kind@${KIND_VERSION}" || die "kind: go install failed"
    log "kind: built in $((SECONDS - t0)) s"
  fi
  [[ "$("${bin}" version)" == "kind ${KIND_VERSION} "* ]] || die "kind: ${bin} does not report ${KIND_VERSION}"
}

# kind's images/base/files laid into ROOT with the modes of kind's Dockerfile (scripts 0755, the rest 0644).
kind_base_files() {
  local root=$1 files d
  files="$(kind_module_dir)/images/base/files"
  install -m 0755 "${files}"/usr/local/bin/* "${root}/usr/local/bin/"
  mkdir -p "${root}/kind/bin" "${root}/LICENSES" "${root}/etc/containerd" "${root}/etc/systemd/system/kubelet.service.d"
  install -m 0644 "${files}"/kind/*.txt "${root}/kind/"
  install -m 0755 "${files}"/kind/bin/* "${root}/kind/bin/"
  install -m 0644 "${files}"/LICENSES/* "${root}/LICENSES/"
  for d in etc etc/containerd etc/default etc/sysctl.d etc/systemd/system etc/systemd/system/kubelet.service.d; do
    mkdir -p "${root}/${d}"
    find "${files}/${d}" -maxdepth 1 -type f -exec install -m 0644 {} "${root}/${d}/" \;
  done
}

# The RUN steps of kind's base Dockerfile, in a chroot.
kind_base_setup() {
  local root=$1
  # shellcheck disable=SC2016 # the script runs in the chroot's bash
  chroot "${root}" /bin/bash -euo pipefail -c '
    find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete
    rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \
      /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \
      /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/*
    echo "ReadKMsg=no" >> /etc/systemd/journald.conf
    ln -sf /usr/lib/systemd/systemd /sbin/init
    systemctl enable kubelet.service containerd.service undo-mount-hacks.service
    systemctl mask systemd-binfmt.service
    mkdir -p /etc/kubernetes/manifests /opt/cni/bin
    # kind installs its own containerd in /usr/local/bin (its unit starts that path) and CNI plugins in /opt/cni/bin
    ln -sf /usr/bin/containerd /usr/local/bin/containerd
    for p in host-local loopback ptp portmap bridge; do ln -sf "/usr/lib/cni/${p}" "/opt/cni/bin/${p}"; done
    ctr oci spec | jq ".hooks.createContainer[.hooks.createContainer| length] |= . + {\"path\": \"/kind/bin/mount-product-files.sh\"}" \
      | jq "del(.process.rlimits)" > /etc/containerd/cri-base.json
    containerd --version && runc --version >/dev/null'
  # Two settings of kind's containerd config differ here: the sandbox image is the pause tag kubeadm asks for
  # (the only pause this build makes), and oom_score_adj is clamped because this host's root lacks
  # CAP_SYS_RESOURCE (kind's entrypoint makes the same change for rootless nodes).
  sed -i -e "s#sandbox_image = \".*\"#sandbox_image = \"${PAUSE_IMAGE}\"#" \
    -e 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' "${root}/etc/containerd/config.toml"
  grep -q "sandbox_image = \"${PAUSE_IMAGE}\"" "${root}/etc/containerd/config.toml" \
    || die "kind: could not set the sandbox image in kind's containerd config"
}

kind_base_recipe() {
  local ref=$1 root
  root=$(rootfs_tmp)
  rootfs_debootstrap "${DEBIAN_PYTHON_SUITE}" "${root}" "${KIND_BASE_PACKAGES}"
  rootfs_apt_sources "${root}" "${DEBIAN_PYTHON_SUITE}"
  kind_base_files "${root}"
  kind_base_setup "${root}"
  rootfs_slim "${root}"
  rootfs_import "${root}" "${ref}-rootfs" 'ENV container=docker' \
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]'
  rm -rf "${root}"
  # `docker import --change` has no STOPSIGNAL; systemd stops on SIGRTMIN+3 (kind's Dockerfile sets it).
  printf 'FROM %s\nSTOPSIGNAL SIGRTMIN+3\n' "${ref}-rootfs" | docker build -q -t "${ref}" - >/dev/null \
    || die "kind: could not set the stop signal on ${ref}"
  docker rmi "${ref}-rootfs" >/dev/null
}

kind_base_image() {
  local key
  key="$(image_key "${KIND_BASE_IMAGE}" "" kind_base_recipe kind_base_files kind_base_setup rootfs_slim)"
  key+="-${KIND_VERSION}-$(echo "${KIND_BASE_PACKAGES} ${PAUSE_IMAGE}" | sha256sum | cut -c1-8)"
  image_ensure "${KIND_BASE_IMAGE}" "${key}" kind_base_recipe
}

# kind_build and kind_base_image also run earlier, in build.sh's parallel groups (cached by then).
BUILD_EXTRA_STEPS+=("kind-node-image kind_node_image")
