#!/usr/bin/env bash
# Stop the daemons that tests/ci/start_slurm.sh started, by the pids in their own pid files
# (never by name), and remove the pid files: a stale /run/slurmctld.pid makes later package
# scripts try to reach a controller that is gone. Idempotent: nothing running, nothing done.
#   --keep-munge   leave munged running (used by start_slurm.sh when it restarts SLURM)
set -u

pidfiles="/run/slurmd.pid /run/slurmctld.pid"
[ "${1:-}" = "--keep-munge" ] || pidfiles="$pidfiles /run/munge/munged.pid"

for f in $pidfiles; do
  [ -s "$f" ] || { rm -f "$f"; continue; }
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "stop_slurm.sh: $f ($pid) still running after 20 s; sending SIGKILL" >&2
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$f"
done
exit 0
