#!/bin/bash
# Entry point with the official image's behaviour: LOCALSTACK_<NAME> settings are also exported as
# <NAME>, BOOT init hooks run before the runtime starts, and the supervisor (which runs
# `python -m localstack.runtime.main` and forwards signals) replaces this shell as the main
# process. START/READY/SHUTDOWN hooks in /etc/localstack/init/*.d are run by the runtime itself.
set -eo pipefail
shopt -s nullglob

for name in $(compgen -e); do
  case "${name}" in
    LOCALSTACK_HOST | LOCALSTACK_HOSTNAME | LOCALSTACK_[0-9]*) ;;
    LOCALSTACK_*) export "${name#LOCALSTACK_}=${!name}" ;;
  esac
done

mkdir -p /var/lib/localstack/logs
# shellcheck source=/dev/null
source /opt/code/localstack/.venv/bin/activate

if [[ -d /etc/localstack/init/boot.d ]]; then
  python3 -m localstack.runtime.init BOOT
fi

exec localstack-supervisor
