#!/usr/bin/env bash
# Start a throw-away single-node SLURM cluster for the SLURM tests (tests/test_slurm.py).
#
# Debian 12 (slurm-wlm 22.05), run as root, no systemd, no cgroups, no accounting database:
#   * munge for authentication, slurmctld + slurmd on this machine as node "localhost";
#   * one partition "debug" holding all CPUs and 3/4 of the memory;
#   * one fake GPU (gres gpu:fake:1 backed by /dev/null) so that --gpus requests schedule;
#   * a node feature "gansweep_ci" and a reservation "gansweep_ci" (root, the whole node) so
#     that the tests can check that the profile's constraint and reservation reach sbatch
#     (while it exists, jobs outside the reservation wait: the SLURM tests all use it);
#   * no slurmdbd, so `sacct` does not work: Snakemake must poll with squeue
#     (profiles/ci-slurm sets slurm-status-command: squeue) and finished jobs stay visible
#     to squeue for MinJobAge=600 s.
#
# Idempotent: packages are installed only when missing, daemons already running are left
# alone, and the script ends when the node is up (idle, or busy with jobs). It exits non-zero
# and prints the daemon logs if the node does not come up. Stop with tests/ci/stop_slurm.sh.
set -euo pipefail

NODE=localhost
PARTITION=debug
CONF_DIR=/etc/slurm
LOG_DIR=/var/log/slurm
WAIT_S=${SLURM_START_TIMEOUT:-60}

if [ "$(id -u)" -ne 0 ]; then
  echo "start_slurm.sh: must run as root (it installs packages and starts daemons)" >&2
  exit 2
fi

# A daemon is running if its pid file names a live process.
running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

dump_logs() {
  echo "---- sinfo ----" >&2
  sinfo -N -l >&2 2>&1 || true
  for f in "$LOG_DIR"/slurmctld.log "$LOG_DIR"/slurmd.log /var/log/munge/munged.log; do
    [ -f "$f" ] && { echo "---- $f (last 40 lines) ----" >&2; tail -n 40 "$f" >&2; }
  done
  return 0
}

# ---- packages (about 3 MB; recommends would pull in 35 more) -------------------------------
packages="munge slurmctld slurmd slurm-client"
missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  # shellcheck disable=SC2086
  apt-get install -y -q --no-install-recommends $missing >/dev/null
fi

# ---- munge ----------------------------------------------------------------------------------
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
[ -s /etc/munge/munge.key ] || runuser -u munge -- mungekey --create
if ! running /run/munge/munged.pid; then
  rm -f /run/munge/munged.pid
  runuser -u munge -- /usr/sbin/munged
fi
munge -n | unmunge >/dev/null

# ---- configuration --------------------------------------------------------------------------
cpus=$(nproc)
mem_mb=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 * 3 / 4 ))
install -d -o slurm -g slurm /var/lib/slurm/slurmctld "$LOG_DIR"
install -d /var/lib/slurm/slurmd "$CONF_DIR"

new_conf=$(cat <<CONF
# Written by tests/ci/start_slurm.sh: throw-away single-node cluster for tests.
ClusterName=gansweep-ci
SlurmctldHost=localhost
AuthType=auth/munge
CredType=cred/munge
SlurmUser=slurm
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
# Plain process tracking, no task binding: no cgroups needed.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobCompType=jobcomp/none
# No accounting database: sacct cannot work, clients poll with squeue.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
# Finished jobs stay visible to squeue for 10 minutes.
MinJobAge=600
# One fake GPU (see gres.conf) so that GPU requests can be scheduled.
GresTypes=gpu
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb Gres=gpu:fake:1 Feature=gansweep_ci State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
)
# File= is required: a gpu gres with only Count= registers no device and drains the node.
new_gres="AutoDetect=off
NodeName=$NODE Name=gpu Type=fake File=/dev/null"

changed=0
if [ "$(cat "$CONF_DIR/slurm.conf" 2>/dev/null)" != "$new_conf" ]; then
  printf '%s\n' "$new_conf" >"$CONF_DIR/slurm.conf"; changed=1
fi
if [ "$(cat "$CONF_DIR/gres.conf" 2>/dev/null)" != "$new_gres" ]; then
  printf '%s\n' "$new_gres" >"$CONF_DIR/gres.conf"; changed=1
fi

# ---- daemons --------------------------------------------------------------------------------
if [ "$changed" = 1 ] && { running /run/slurmctld.pid || running /run/slurmd.pid; }; then
  echo "configuration changed: restarting the SLURM daemons"
  bash "$(dirname "$0")/stop_slurm.sh" --keep-munge
fi
if ! running /run/slurmctld.pid; then
  rm -f /run/slurmctld.pid
  /usr/sbin/slurmctld
fi
slurmd_started=0
if ! running /run/slurmd.pid; then
  rm -f /run/slurmd.pid
  slurmd_started=$(( $(date +%s) - 1 ))
  /usr/sbin/slurmd -N "$NODE"
fi

# The controller reports the node state it saved last time at once; a node is only up once
# the slurmd started above has registered (SlurmdStartTime) and the state is idle.
registered() {
  [ "$slurmd_started" = 0 ] && return 0
  local t
  t=$(scontrol show node "$NODE" 2>/dev/null | sed -n 's/.*SlurmdStartTime=\([^ ]*\).*/\1/p')
  [ -n "$t" ] && [ "$t" != None ] \
    && [ "$(date -d "$t" +%s 2>/dev/null || echo 0)" -ge "$slurmd_started" ]
}

# ---- wait until the node is up --------------------------------------------------------------
state=""
resumed=0
deadline=$(( $(date +%s) + WAIT_S ))
while [ "$(date +%s)" -lt "$deadline" ]; do
  state=$(sinfo -h -n "$NODE" -o %T 2>/dev/null || true)
  registered || state="${state:-unknown} (slurmd not registered yet)"
  case "$state" in
    idle | mixed | allocated | completing) break ;;
    drained | draining | down | inval | drained\* | down\*)
      # A drain/down state survives restarts in StateSaveLocation; give it one chance.
      if [ "$resumed" = 0 ]; then
        scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true
        resumed=1
      fi ;;
  esac
  sleep 0.25
done
case "$state" in
  idle | mixed | allocated | completing) ;;
  *)
    echo "start_slurm.sh: node $NODE is '${state:-unknown}', not idle, after ${WAIT_S}s" >&2
    dump_logs
    exit 1 ;;
esac
# The reservation of the SLURM tests (kept in StateSaveLocation across restarts).
if ! scontrol show reservation gansweep_ci >/dev/null 2>&1; then
  scontrol create reservation ReservationName=gansweep_ci Users=root Nodes="$NODE" \
    StartTime=now Duration=infinite Flags=IGNORE_JOBS >/dev/null
fi
echo "slurm up: $(sinfo -h -o '%P %a nodes=%D %T cpus=%c mem=%m gres=%G features=%f')," \
  "reservation: $(scontrol show reservation gansweep_ci | head -1)"
