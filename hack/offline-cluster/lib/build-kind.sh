#!/usr/bin/env bash
# kind without a registry: the real kind binary from its Go module, and a node image made the way
# `kind build node-image` makes one (which cannot run here: it pulls etcd, CoreDNS, pause, kindnetd and
# local-path images). kind's base image files (entrypoint, systemd units, containerd config) are read
# from the kind module at build time; the base userland is Debian bookworm from debootstrap, since
# trixie's systemd does not boot on a cgroup v1 host. Sourced by build.sh (it adds the build steps).
set -euo pipefail

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

kind_podnet_recipe() {
  local ref=$1 ctx
  ctx=$(mktemp -d)
  cp "${IMAGES_SRC}/podnet/Dockerfile" "${IMAGES_SRC}/podnet/podnet.sh" "${IMAGES_SRC}/kube-proxy/iptables-wrapper" \
    "$(k8s_bin_dir)/kubectl" "${ctx}/"
  image_docker_build "${ref}" "${ctx}" --build-arg "BASE=${K8S_IPTABLES_BASE_IMAGE}"
  rm -rf "${ctx}"
}

kind_podnet_image() {
  local key
  k8s_iptables_base_image
  key="$(image_key "${KIND_PODNET_IMAGE}" "${IMAGES_SRC}/podnet" kind_podnet_recipe)"
  key+="-$(cat "$(k8s_bin_dir)/kubectl" "${IMAGES_SRC}/kube-proxy/iptables-wrapper" | sha256sum | cut -c1-8)"
  image_ensure "${KIND_PODNET_IMAGE}" "${key}" kind_podnet_recipe
}

# kind's buildImage, reproduced: a build container from the base image, kubeadm/kubelet/kubectl in /usr/bin,
# /kind/version, the default CNI manifest, every image kubeadm asks for (plus the CNI's) imported into
# containerd's k8s.io namespace without unpacking, then `docker commit` with kind's entrypoint.
kind_node_recipe() {
  local ref=$1 id="lab-kind-build-$$" rc=0
  docker rm -f "${id}" >/dev/null 2>&1 || true
  docker run -d --entrypoint=sleep --name "${id}" --security-opt seccomp=unconfined "${KIND_BASE_IMAGE}" infinity \
    >/dev/null || die "kind: could not start the build container from ${KIND_BASE_IMAGE}"
  kind_node_fill "${id}" || rc=$?
  if ((rc == 0)); then
    docker commit --change 'ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]' \
      --change 'ENV HTTP_PROXY="" HTTPS_PROXY="" NO_PROXY=""' "${id}" "${ref}" >/dev/null || rc=$?
  fi
  docker rm -f "${id}" >/dev/null 2>&1 || true
  ((rc == 0)) || die "kind: building ${ref} failed (exit ${rc})"
}

kind_node_fill() {
  local id=$1 b images
  for b in kubeadm kubelet kubectl; do
    docker cp "$(k8s_bin_dir)/${b}" "${id}:/usr/bin/${b}"
    docker exec "${id}" chown root:root "/usr/bin/${b}"
  done
  docker cp "$(crictl_bin)" "${id}:/usr/local/bin/crictl" # kind's base ships crictl (node debugging, kind export logs)
  docker exec "${id}" sh -c "printf '%s' '${K8S_VERSION}' > /kind/version && mkdir -p /kind/manifests"
  kind_node_cgroup_dropin | docker exec -i "${id}" sh -c 'cat > /etc/systemd/system/kubelet.service.d/12-lab-cgroups.conf'
  sed "s#@IMAGE@#${KIND_PODNET_IMAGE}#" "${IMAGES_SRC}/podnet/default-cni.yaml" \
    | docker exec -i "${id}" sh -c 'cat > /kind/manifests/default-cni.yaml'
  mapfile -t images < <(docker exec "${id}" kubeadm config images list --kubernetes-version "${K8S_VERSION}")
  images+=("${KIND_PODNET_IMAGE}")
  log "kind: importing ${#images[@]} images into the node's containerd: ${images[*]}"
  docker exec "${id}" bash -c 'nohup containerd >/var/log/containerd-build.log 2>&1 &'
  docker exec "${id}" timeout 60 bash -c 'until ctr version >/dev/null 2>&1; do sleep 0.2; done' \
    || { docker exec "${id}" cat /var/log/containerd-build.log >&2; return 1; }
  docker save "${images[@]}" | docker exec -i "${id}" \
    ctr --namespace=k8s.io images import --all-platforms --no-unpack --digests - >/dev/null
  kind_node_check_images "${id}" "${images[@]}"
  docker exec "${id}" bash -c 'pkill containerd; timeout 60 bash -c "while pgrep -x containerd >/dev/null; do sleep 0.2; done"'
  docker exec "${id}" rm -f /var/log/containerd-build.log
}

# On a cgroup v1 host that leaves some controllers unmounted (here hugetlb, net_cls/net_prio, perf_event: listed
# in /proc/self/cgroup but not under /sys/fs/cgroup), Docker does not mount them into the node, kind's entrypoint
# creates /kubelet and /kubelet.slice only in the mounted ones, and systemd mounts the rest at boot: the kubelet
# then refuses to start ("cgroup [kubelet] has some missing paths: /sys/fs/cgroup/hugetlb/kubelet.slice").
# This drop-in, after kind's own (11-kind.conf), creates both cgroups in every controller mounted by then.
# shellcheck disable=SC2016 # $${c} is for systemd (a literal $ in the unit), not for this shell
kind_node_cgroup_dropin() {
  printf '%s\n' '[Service]' \
    'ExecStartPre=/bin/sh -euc "if [ ! -f /sys/fs/cgroup/cgroup.controllers ]; then for c in $$(findmnt -lun -o target -t cgroup); do mkdir -p $${c}/kubelet $${c}/kubelet.slice; done; fi"'
}

kind_node_check_images() {
  local id=$1 listed ref
  shift
  listed=$(docker exec "${id}" ctr --namespace=k8s.io images ls -q)
  for ref in "$@"; do
    grep -qx "$(oc_image_ref_of "${ref}")" <<<"${listed}" || die "kind: ${ref} is not in the node's containerd"
  done
}

# docker.io/library/ completion as containerd spells references (lab/podnet:v1 -> docker.io/lab/podnet:v1).
oc_image_ref_of() {
  local ref=$1 first=${1%%/*}
  if [[ "${ref}" != */* ]]; then ref="docker.io/library/${ref}"
  elif [[ "${first}" != *.* && "${first}" != *:* && "${first}" != localhost ]]; then ref="docker.io/${ref}"; fi
  echo "${ref}"
}

kind_node_image() {
  local key inputs refs
  kind_build
  k8s_images
  crictl_build
  kind_base_image
  kind_podnet_image
  mapfile -t refs < <(k8s_images_list)
  inputs=$(docker image inspect -f '{{.Id}}' "${KIND_BASE_IMAGE}" "${KIND_PODNET_IMAGE}" "${refs[@]}")
  key="$(image_key "${KIND_NODE_IMAGE}" "${IMAGES_SRC}/podnet" kind_node_recipe kind_node_fill kind_node_cgroup_dropin)"
  key+="-$( (echo "${inputs}"; cat "$(k8s_bin_dir)"/{kubeadm,kubelet,kubectl} "$(crictl_bin)") | sha256sum | cut -c1-8)"
  image_ensure "${KIND_NODE_IMAGE}" "${key}" kind_node_recipe
  log "kind: node image ${KIND_NODE_IMAGE} ready (kind create cluster --image ${KIND_NODE_IMAGE})"
}

# kind_build and kind_base_image also run earlier, in build.sh's parallel groups (cached by then).
BUILD_EXTRA_STEPS+=("kind-node-image kind_node_image")
