#!/usr/bin/env bash
# Background processes of the cluster: one PID file and one log per component, so `down`
# and `status` act on exactly the processes `up` started and never on look-alikes.
# The one start/wait/stop mechanism of the offline cluster: the control plane uses it
# directly, runtime.sh (containerd, dockerd) through thin wrappers.
set -euo pipefail

oc_pid_file() { echo "${LAB_STATE}/pids/$1.pid"; }
oc_log_file() { echo "${LAB_STATE}/logs/$1.log"; }

# Print NAME's PID if that process is alive and still runs the binary we started; else fail.
# A PID file is "PID BINARY". A file holding only a PID was written by the runtime's former
# spawn function (before it used oc_spawn): it still names a daemon a running cluster may own,
# so it is matched by the process name, as that function did, until the next `up` rewrites it.
oc_pid() {
  local name=$1 pid_file pid="" exe want=""
  pid_file=$(oc_pid_file "${name}")
  [[ -s "${pid_file}" ]] || return 1
  read -r pid want <"${pid_file}" || [[ -n "${pid}" ]] || return 1
  [[ "${pid}" =~ ^[0-9]+$ ]] || return 1
  exe=$(readlink "/proc/${pid}/exe" 2>/dev/null) || return 1
  if [[ -z "${want}" ]]; then
    [[ "$(<"/proc/${pid}/comm")" == "${name}" ]] || return 1
  else
    [[ "${exe% (deleted)}" == "${want}" ]] || return 1
  fi
  echo "${pid}"
}

# Alive and not a zombie (a reaped-late zombie still answers kill -0 but has no exe link).
oc_alive() { readlink "/proc/$1/exe" >/dev/null 2>&1; }

# oc_spawn NAME BINARY ARGS... — detached (own session, no stdin), output appended to its log.
# The inner shell records its own PID and then execs the binary, so the PID file is right even
# if setsid had to fork; we return once that PID really runs the binary (no race with checks).
oc_spawn() {
  local name=$1 bin log_file pid_file pid="" deadline
  bin=$(readlink -f "$2")
  shift 2
  mkdir -p "${LAB_STATE}/pids" "${LAB_STATE}/logs"
  [[ -x "${bin}" ]] || die "${name}: binary ${bin} missing; run: offline-cluster build"
  log_file=$(oc_log_file "${name}")
  pid_file=$(oc_pid_file "${name}")
  rm -f "${pid_file}"
  # shellcheck disable=SC2016 # $$, $0 and $@ belong to the inner shell
  setsid bash -c 'echo "$$ $0" >"'"${pid_file}"'.tmp" && exec "$0" "$@"' "${bin}" "$@" \
    </dev/null >>"${log_file}" 2>&1 9>&- &
  deadline=$((SECONDS + 10))
  until [[ -s "${pid_file}.tmp" ]] && read -r pid _ <"${pid_file}.tmp" \
    && [[ "$(readlink "/proc/${pid}/exe" 2>/dev/null)" == "${bin}" ]]; do
    ((SECONDS < deadline)) || oc_fail "${name}" "did not start"
    [[ -z "${pid:-}" || -e "/proc/${pid}" ]] || oc_fail "${name}" "exited right after start"
    sleep 0.05
  done
  mv "${pid_file}.tmp" "${pid_file}"
  log "started ${name} (pid ${pid}, log ${log_file})"
}

# oc_wait NAME SECONDS WHAT CHECK... — poll CHECK until it succeeds; fail naming NAME's log
# when NAME dies or the deadline passes. NAME may be "-" when no single process owns WHAT.
oc_wait() {
  local name=$1 timeout=$2 what=$3 deadline
  shift 3
  deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [[ "${name}" != - ]] && ! oc_pid "${name}" >/dev/null; then
      oc_fail "${name}" "exited while waiting for ${what}"
    fi
    ((SECONDS < deadline)) || oc_fail "${name}" "timed out after ${timeout} s waiting for ${what}"
    sleep 0.25
  done
}

# One clear line naming the component and its log, then its last lines for context.
oc_fail() {
  local name=$1 msg=$2 log_file
  if [[ "${name}" == - ]]; then die "${msg}"; fi
  log_file=$(oc_log_file "${name}")
  if [[ -s "${log_file}" ]]; then
    printf -- '--- last lines of %s ---\n' "${log_file}" >&2
    tail -n 15 "${log_file}" >&2
  fi
  die "${name}: ${msg}; see ${log_file}"
}

# SIGTERM, up to SECONDS (default 20) for a clean exit, then SIGKILL. Only our recorded PID.
oc_stop() {
  local name=$1 grace=${2:-20} pid deadline
  if ! pid=$(oc_pid "${name}"); then rm -f "$(oc_pid_file "${name}")"; return 0; fi
  log "stopping ${name} (pid ${pid})"
  kill -TERM "${pid}" 2>/dev/null || true
  deadline=$((SECONDS + grace))
  while oc_alive "${pid}" && ((SECONDS < deadline)); do sleep 0.1; done
  if oc_alive "${pid}"; then
    log "${name} ignored SIGTERM for ${grace} s; sending SIGKILL"
    kill -KILL "${pid}" 2>/dev/null || true
  fi
  rm -f "$(oc_pid_file "${name}")"
}
