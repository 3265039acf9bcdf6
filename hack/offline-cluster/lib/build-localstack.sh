#!/usr/bin/env bash
# The localstack/localstack:<version> stand-in: a debootstrapped Debian with Python >= 3.12, the
# localstack-core wheel from PyPI on top (images/localstack/Dockerfile), smoke-tested before it is
# cached. Why not the official image: no registry is reachable, and tags after 4.14.0 need an auth
# token anyway. Sourced by build.sh; needs common.sh and build-images.sh.
set -euo pipefail

# Debian base with Python >= 3.12 for LocalStack (localstack-core 4.14 requires it; bookworm has 3.11).
LOCALSTACK_BASE_IMAGE="lab/debian-python:${DEBIAN_LOCALSTACK_SUITE}"

localstack_base_recipe() {
  local ref=$1 root
  root=$(rootfs_tmp)
  rootfs_debootstrap "${DEBIAN_LOCALSTACK_SUITE}" "${root}" \
    python3,python3-venv,ca-certificates,curl,procps,iproute2,openssl
  rootfs_apt_sources "${root}" "${DEBIAN_LOCALSTACK_SUITE}"
  rootfs_trust_host_cas "${root}"
  rootfs_slim "${root}"
  rootfs_import "${root}" "${ref}" \
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' 'ENV LANG=C.UTF-8' 'CMD ["bash"]'
  rm -rf "${root}"
}

localstack_recipe() {
  local ref=$1
  image_ensure "${LOCALSTACK_BASE_IMAGE}" \
    "$(image_key "${LOCALSTACK_BASE_IMAGE}" "" localstack_base_recipe rootfs_apt_sources rootfs_trust_host_cas rootfs_slim)" \
    localstack_base_recipe
  log "images: docker build ${ref} (pip install localstack-core[runtime]==${LOCALSTACK_CORE_VERSION}; a few minutes)"
  image_docker_build "${ref}" "${IMAGES_SRC}/localstack" --build-arg "BASE=${LOCALSTACK_BASE_IMAGE}" \
    --build-arg "LOCALSTACK_CORE_VERSION=${LOCALSTACK_CORE_VERSION}"
  localstack_smoke_test "${ref}"
}

localstack_image() {
  image_ensure "${LOCALSTACK_IMAGE}" \
    "$(image_key "${LOCALSTACK_IMAGE}" "${IMAGES_SRC}/localstack" localstack_recipe localstack_base_recipe)" \
    localstack_recipe
}

# Start the image with a ready.d hook, then run images/localstack/smoke-test.sh inside it.
localstack_smoke_test() {
  local ref=$1 name="lab-localstack-smoke-$$" hooks rc=0
  hooks=$(mktemp -d)
  printf '#!/bin/bash\nawslocal sns create-topic --name smoke-from-hook\n' >"${hooks}/10-smoke.sh"
  chmod 755 "${hooks}" "${hooks}/10-smoke.sh"
  log "images: smoke-testing ${ref} (health, ready.d hook, SNS -> SQS)"
  docker run -d --name "${name}" -v "${hooks}:/etc/localstack/init/ready.d:ro" "${ref}" >/dev/null
  docker exec -i "${name}" bash -s <"${IMAGES_SRC}/localstack/smoke-test.sh" || rc=$?
  if ((rc != 0)); then docker logs "${name}" >"${LAB_CACHE}/logs/localstack-smoke.log" 2>&1 || true; fi
  docker rm -f "${name}" >/dev/null
  rm -rf "${hooks}"
  ((rc == 0)) || die "images: ${ref} failed its smoke test; see ${LAB_CACHE}/logs/localstack-smoke.log"
}
