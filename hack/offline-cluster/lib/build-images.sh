#!/usr/bin/env bash
# Stand-in base images built without a registry: root filesystems from Debian's apt via
# debootstrap, imported into Docker and saved as tarballs in ${LAB_CACHE}/images.
# Why: the project's Dockerfiles say `FROM python:3.11-slim` and the manifests run
# `localstack/localstack:4.14.0`; no registry is reachable, so we provide images with those exact
# tags that behave like the official ones. Sourced by build.sh; needs common.sh.
set -euo pipefail

# shellcheck disable=SC2034 # used by the build-<image>.sh recipes
IMAGES_SRC="${OC_DIR}/images"
export DOCKER_BUILDKIT=0 # Debian's docker.io has no buildx

images_dir() { echo "${LAB_CACHE}/images"; }

# Cache tarball of an image ref: registry.k8s.io/pause:3.10.1 -> .../pause-3.10.1.tar
image_tarball() {
  local ref=$1 name
  name=${ref%:*}
  echo "$(images_dir)/${name##*/}-${ref##*:}.tar"
}

# Cache key of a recipe: the ref, the pins images depend on, the recipe functions' text and the
# files of its images/ folder, so editing any of them rebuilds just that image.
image_key() {
  local ref=$1 dir=$2
  shift 2
  {
    echo "${ref} ${DEBIAN_PYTHON_SUITE} ${DEBIAN_LOCALSTACK_SUITE} ${LOCALSTACK_CORE_VERSION}"
    declare -f "$@"
    if [[ -n "${dir}" ]]; then (cd "${dir}" && find . -type f -print0 | sort -z | xargs -0 sha256sum); fi
  } | sha256sum | cut -c1-16
}

image_id() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null; }

# Make REF present in Docker: reuse it, reload it from the cache, or build it with BUILDER.
# Usage: image_ensure REF KEY BUILDER
image_ensure() {
  local ref=$1 key=$2 builder=$3 tar
  tar=$(image_tarball "${ref}")
  if [[ -f "${tar}" && "$(cat "${tar}.key" 2>/dev/null)" == "${key}" ]]; then
    if [[ "$(image_id "${ref}")" == "$(cat "${tar}.id")" ]]; then
      log "images: ${ref} present (cache ${tar})"
      return 0
    fi
    log "images: loading ${ref} from ${tar}"
    docker load -q -i "${tar}" >/dev/null || die "images: docker load of ${tar} failed"
    return 0
  fi
  log "images: building ${ref}"
  "${builder}" "${ref}"
  mkdir -p "$(images_dir)"
  docker save -o "${tar}.tmp" "${ref}" || die "images: docker save ${ref} failed"
  mv "${tar}.tmp" "${tar}"
  image_id "${ref}" >"${tar}.id"
  echo "${key}" >"${tar}.key"
  log "images: ${ref} saved to ${tar} ($(du -h "${tar}" | cut -f1))"
}

# Debian mirror URL (kind: debian | debian-security) taken from the host's apt sources, so the
# images use whatever mirror this machine is allowed to reach; override with DEBIAN_MIRROR /
# DEBIAN_SECURITY_MIRROR.
debian_mirror() {
  local kind=$1 url
  if [[ "${kind}" == debian && -n "${DEBIAN_MIRROR:-}" ]]; then echo "${DEBIAN_MIRROR}"; return 0; fi
  if [[ "${kind}" == debian-security && -n "${DEBIAN_SECURITY_MIRROR:-}" ]]; then
    echo "${DEBIAN_SECURITY_MIRROR}"; return 0
  fi
  url=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
    | grep -v '^[[:space:]]*#' | grep -oE 'https?://[^[:space:]]+' | sed 's#/$##' | grep -m1 "/${kind}\$" || true)
  [[ -n "${url}" ]] || die "images: no ${kind} mirror in the host's apt sources; set DEBIAN_MIRROR/DEBIAN_SECURITY_MIRROR"
  echo "${url}"
}

# debootstrap a minimal SUITE into ROOT with extra PACKAGES (comma separated).
rootfs_debootstrap() {
  local suite=$1 root=$2 packages=$3 dlog="${LAB_CACHE}/logs/debootstrap-$1-${2##*.}.log"
  mkdir -p "${LAB_CACHE}/logs"
  log "images: debootstrap ${suite} (+${packages}), log ${dlog}"
  debootstrap --variant=minbase --include="${packages}" "${suite}" "${root}" "$(debian_mirror debian)" \
    >"${dlog}" 2>&1 || die "images: debootstrap ${suite} failed; see ${dlog}"
}

# apt inside the image uses the same mirrors as the host, with updates and security suites.
rootfs_apt_sources() {
  local root=$1 suite=$2
  rm -f "${root}/etc/apt/sources.list"
  cat >"${root}/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $(debian_mirror debian)
Suites: ${suite} ${suite}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $(debian_mirror debian-security)
Suites: ${suite}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
}

# Trust the CAs the host trusts beyond Debian's set (e.g. a TLS-inspecting proxy), installed the
# Debian way so a later `apt-get install ca-certificates` in a Dockerfile keeps them.
rootfs_trust_host_cas() {
  local root=$1 n
  n=$(python3 - "${root}" <<'EOF'
import re, sys
pem = re.compile(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", re.S)
def certs(path):
    with open(path) as f:
        return pem.findall(f.read())
root = sys.argv[1]
known = {c.replace("\n", "") for c in certs(root + "/etc/ssl/certs/ca-certificates.crt")}
extra = [c for c in certs("/etc/ssl/certs/ca-certificates.crt") if c.replace("\n", "") not in known]
for i, c in enumerate(extra):
    with open(f"{root}/usr/local/share/ca-certificates/lab-host-{i}.crt", "w") as f:
        f.write(c + "\n")
print(len(extra))
EOF
  )
  chroot "${root}" update-ca-certificates >/dev/null 2>&1 || die "images: update-ca-certificates failed in ${root}"
  log "images: trusting ${n} extra host CA certificate(s)"
}

# Keep images small like Debian's slim images: no docs/man/locales now or on later installs.
rootfs_slim() {
  local root=$1
  cat >"${root}/etc/dpkg/dpkg.cfg.d/lab-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  find "${root}/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  rm -rf "${root}"/usr/share/{man,info}/* "${root}"/var/lib/apt/lists/* "${root}"/var/cache/apt/*
  find "${root}/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  rm -f "${root}"/var/log/*.log "${root}"/var/log/apt/* "${root}/etc/resolv.conf" "${root}/etc/hostname"
  find "${root}" -name __pycache__ -type d -prune -exec rm -rf {} +
}

# Import ROOT as REF with Docker --change instructions (rest of the args).
rootfs_import() {
  local root=$1 ref=$2
  shift 2
  local changes=() c
  for c in "$@"; do changes+=(--change "${c}"); done
  tar -C "${root}" --numeric-owner -c . | docker import "${changes[@]}" - "${ref}" >/dev/null \
    || die "images: docker import of ${ref} failed"
}

# docker build REF CONTEXT [ARGS...], output kept in ${LAB_CACHE}/logs for when it fails.
image_docker_build() {
  local ref=$1 ctx=$2 name blog
  shift 2
  name=${ref%:*}
  blog="${LAB_CACHE}/logs/docker-build-${name##*/}.log"
  mkdir -p "${LAB_CACHE}/logs"
  docker build -t "${ref}" "$@" "${ctx}" >"${blog}" 2>&1 || die "images: docker build of ${ref} failed; see ${blog}"
}

# Libraries with their own CA bundle (certifi in pip-installed requests/botocore) get pointed at the
# system bundle, which holds the host's extra CAs; outside such networks it is the same trust set.
ROOTFS_CA_ENV=(
  'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt'
  'ENV REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt'
  'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt'
)

rootfs_tmp() { mkdir -p "${LAB_CACHE}/tmp" && mktemp -d "${LAB_CACHE}/tmp/rootfs.XXXXXX"; }

# python:3.11-slim stand-in: Debian bookworm's python3 (3.11) + pip + venv.
python_base_recipe() {
  local ref=$1 root
  root=$(rootfs_tmp)
  rootfs_debootstrap "${DEBIAN_PYTHON_SUITE}" "${root}" python3,python3-pip,python3-venv,ca-certificates
  rootfs_apt_sources "${root}" "${DEBIAN_PYTHON_SUITE}"
  rootfs_trust_host_cas "${root}"
  # Like the official image: `python`/`pip` on PATH and pip installs into the system site.
  ln -sf /usr/bin/python3 "${root}/usr/local/bin/python"
  ln -sf /usr/bin/pip3 "${root}/usr/local/bin/pip"
  rm -f "${root}"/usr/lib/python3*/EXTERNALLY-MANAGED
  rootfs_slim "${root}"
  rootfs_import "${root}" "${ref}" \
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' 'ENV LANG=C.UTF-8' \
    'ENV PIP_ROOT_USER_ACTION=ignore' "${ROOTFS_CA_ENV[@]}" 'CMD ["python3"]'
  rm -rf "${root}"
  docker run --rm "${ref}" python -c 'import sys, ssl, venv; assert sys.version_info[:2] == (3, 11)' \
    || die "images: ${ref} does not run python 3.11"
}

python_base_image() {
  image_ensure "${PYTHON_BASE_IMAGE}" \
    "$(image_key "${PYTHON_BASE_IMAGE}" "" python_base_recipe rootfs_apt_sources rootfs_trust_host_cas rootfs_slim)" \
    python_base_recipe
}
