#!/usr/bin/env bash
# CI step: the SLURM tests (tests/test_slurm.py -m slurm) against a real, throw-away
# single-node SLURM with a fake GPU (tests/ci/start_slurm.sh; root, Debian 12).
# Run from anywhere after the project venv is installed (.venv, or $VENV).
# Extra arguments go to pytest. Exit status: pytest's, or start_slurm.sh's if SLURM does not
# come up. SLURM daemons that this script started are stopped on exit; a SLURM that was
# already running is left running.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV=${VENV:-.venv}

already_running=0
if [ -s /run/slurmctld.pid ] && kill -0 "$(cat /run/slurmctld.pid)" 2>/dev/null; then
  already_running=1
fi
cleanup() {
  if [ "$already_running" = 0 ]; then
    echo "stopping the SLURM daemons started for the tests"
    bash tests/ci/stop_slurm.sh
  fi
}
trap cleanup EXIT

start=$(date +%s)
bash tests/ci/start_slurm.sh || { echo "slurm_test.sh: SLURM did not start" >&2; exit 1; }
echo "SLURM ready in $(( $(date +%s) - start )) s"

# GANSWEEP_SLURM_REQUIRED=1: fail (instead of skip) if sinfo stops working.
GANSWEEP_SLURM_TESTS=1 GANSWEEP_SLURM_REQUIRED=1 \
  "$VENV/bin/pytest" -q -m slurm tests/test_slurm.py "$@"
rc=$?
echo "SLURM tests finished in $(( $(date +%s) - start )) s with exit status $rc"
exit "$rc"
