#!/usr/bin/env bash
# kind's node image (what `kind create cluster --image` names), made the way `kind build node-image` makes one,
# minus its pulls: the lab's pod network image (podnet, kind's default CNI here), then a build container from
# lab/kind-base with kubeadm/kubelet/kubectl, crictl and every image kubeadm asks for. Sourced by build-kind.sh
# (which registers the step); functions only, so build.sh sourcing it again as a build-*.sh file is harmless.
set -euo pipefail

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
