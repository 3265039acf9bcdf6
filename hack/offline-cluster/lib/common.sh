#!/usr/bin/env bash
# Shared settings and helpers for every offline-cluster sub-command.
# Why a cache outside the repo: a cold build takes tens of minutes; keyed by version it is
# reused by later runs and by CI on the same machine, while a fresh clone stays small.
set -euo pipefail

OC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../versions.env
source "${OC_DIR}/versions.env"

LAB_CACHE=${LAB_CACHE:-/var/cache/resiliency-lab}
LAB_STATE=${LAB_STATE:-/var/lib/resiliency-lab/offline-cluster}
export GOMODCACHE=${GOMODCACHE:-${LAB_CACHE}/gomod}
export GOCACHE=${GOCACHE:-${LAB_CACHE}/gocache}
export GOFLAGS=${GOFLAGS:--buildvcs=false}

log() { printf '[offline-cluster %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { printf 'offline-cluster: error: %s\n' "$*" >&2; exit 1; }
