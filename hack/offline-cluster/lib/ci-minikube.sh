#!/usr/bin/env bash
# CI's minikube phase (issue 8): build (warm: seconds), then on the real minikube binary
#   1. the exercise's own commands, literally: `minikube start`, `eval $(minikube docker-env)`, both
#      `docker build`s, `kubectl apply -f candidate-project/kubernetes`, three Running pods, `kubectl exec POD --
#      curl http://0.0.0.0:5000/health`, the kubelet's probe lines in `kubectl logs`, `minikube delete`;
#   2. `tox -e cluster -- --k8s-provider=minikube -k minikube` (tests/cluster/test_minikube.py: the provider itself);
#   3. `tox -e e2e` on minikube through pytest-kubernetes' provider: the exercise and liveness modules.
# Each step prints its duration; minikube's logs are saved under artifacts/ci/minikube/ and every profile this
# phase created is deleted, whatever happens. Usage: ci-minikube.sh [build|exercise|cluster|e2e]... (default: all).
# Why a separate script: .ci/run belongs to the CI owner, who calls this as one phase.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
OC="${ROOT}/hack/offline-cluster/offline-cluster"
ARTIFACTS="${ROOT}/artifacts/ci/minikube"
# The minikube profile each step creates: the default one, tests/cluster/test_minikube.py's, the e2e run's.
declare -A STEP_PROFILE=([exercise]=minikube [cluster]=pytest-lab-minikube-tier [e2e]=pytest-resiliency-lab)
PROFILES=() # of the steps this run started: only those are cleaned up (another run may use the others)

say() { printf '=== [ci-minikube %s] %s\n' "$(date +%T)" "$*"; }

step() { # step NAME CMD... : run CMD and print its duration
  local name=$1 t0=${SECONDS}
  shift
  say "${name}: start"
  "$@"
  say "${name}: $((SECONDS - t0)) s"
}

# Whether minikube knows PROFILE, running or not. Not `minikube status`: it exits non-zero for a running profile
# whose context is not in $KUBECONFIG (the e2e run's is in pytest-kubernetes' own file), so the trap skipped it and
# the profile outlived the phase (found 2026-12-07: the next run reused it).
# The list is captured first: `| grep -q` would SIGPIPE minikube and, under pipefail, report a known profile as not.
known_profile() {
  local listed
  listed=$(minikube profile list -o json 2>/dev/null) || return 1
  [[ "${listed}" == *"\"Name\":\"$1\""* ]]
}

cleanup() {
  local rc=$? profile
  set +e
  mkdir -p "${ARTIFACTS}"
  for profile in "${PROFILES[@]+"${PROFILES[@]}"}"; do
    known_profile "${profile}" || continue
    minikube logs -p "${profile}" --file "${ARTIFACTS}/${profile}.log" >/dev/null 2>&1
    minikube delete -p "${profile}" >/dev/null 2>&1
    say "deleted leftover profile ${profile} (logs: ${ARTIFACTS}/${profile}.log)"
  done
  exit "${rc}"
}

# The exercise's commands as a user types them (README "By hand" and docs/minikube.md), with checks.
exercise() {
  local pod app logs t0=${SECONDS}
  minikube start
  kubectl wait node --all --for=condition=Ready --timeout=120s
  say "minikube start to node Ready: $((SECONDS - t0)) s"
  minikube status
  eval "$(minikube docker-env)"
  docker build -t consumer candidate-project/consumer
  docker build -t producer candidate-project/producer
  eval "$(minikube docker-env --unset)"
  kubectl apply -f candidate-project/kubernetes
  kubectl rollout status deployment/localstack deployment/producer deployment/consumer --timeout=300s
  kubectl get pods
  [[ "$(kubectl get pods --field-selector=status.phase=Running -o name | wc -l)" == 3 ]]
  for app in producer consumer; do
    pod=$(kubectl get pod -l "app=${app}" -o name)
    [[ "$(kubectl exec "${pod}" -- curl -s http://0.0.0.0:5000/health)" == '{"status": "UP!"}' ]]
    # the kubelet's probes in the log, as the exercise shows them; they come every periodSeconds
    kubectl wait "${pod}" --for=condition=Ready --timeout=120s
    # captured first: `kubectl logs | grep -m1` fails under pipefail when grep's early exit SIGPIPEs kubectl (141)
    logs=$(kubectl logs "${pod}")
    grep -m1 -E '"GET /health HTTP/1.1" 200 -' <<<"${logs}"
  done
  minikube delete
}

main() {
  cd "${ROOT}"
  local steps=("$@")
  ((${#steps[@]})) || steps=(build exercise cluster e2e)
  trap cleanup EXIT
  local s
  for s in "${steps[@]}"; do
    case "${s}" in
      build) step build "${OC}" build ;;
      exercise | cluster | e2e)
        PROFILES+=("${STEP_PROFILE[${s}]}")
        eval "$("${OC}" env)"
        # minikube writes its context into $KUBECONFIG: never into the offline cluster's, if that one is up.
        export KUBECONFIG="${ARTIFACTS}/kubeconfig"
        mkdir -p "${ARTIFACTS}"
        case "${s}" in
          exercise) step exercise exercise ;;
          cluster) step cluster-tier python3 -m tox run -e cluster -- --k8s-provider=minikube -k minikube ;;
          # Serial (-n 0): in parallel on minikube, 2026-12-07, one run of two lost a restarted container's last
          # state (the killed container gone from the runtime, cause open: docs/decisions.md, "Parallel e2e").
          # kind's e2e phase is parallel.
          e2e) step e2e python3 -m tox run -e e2e -- --k8s-provider=minikube \
            --k8s-version="${MINIKUBE_KUBERNETES_VERSION}" --ignore=tests/e2e/faults -n 0 ;;
        esac ;;
      *) echo "ci-minikube: unknown step '${s}'; usage: ci-minikube.sh [build|exercise|cluster|e2e]..." >&2; exit 2 ;;
    esac
  done
}

main "$@"
