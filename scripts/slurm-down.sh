#!/usr/bin/env bash
# Stop the local SLURM started by scripts/slurm-up.sh: cancel every job, then stop exactly the
# daemons whose pid files live in $SIMTUNE_SLURM_DIR (default /var/tmp/simtune-slurm), each
# after checking /proc/PID/comm (pids wrap; never signal a stranger). State is kept, so the next
# slurm-up.sh is fast; pass --purge to delete the folder as well.
set -uo pipefail

D=${SIMTUNE_SLURM_DIR:-/var/tmp/simtune-slurm}
PURGE=0
[ "${1:-}" = "--purge" ] && PURGE=1
say() { echo "slurm-down: $*" >&2; }
[ "$(id -u)" -eq 0 ] || { say "must run as root"; exit 1; }

# pid_of PIDFILE COMM -> prints the pid if it runs COMM
pid_of() {
    local pid
    [ -s "$1" ] || return 1
    pid=$(cat "$1" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] || return 1
    echo "$pid"
}

# stop PIDFILE COMM -> SIGTERM, wait up to 20 s, then SIGKILL
stop() {
    local pid i
    pid=$(pid_of "$1" "$2") || { say "$2 not running"; return 0; }
    say "stopping $2 (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 200); do
        [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] || { rm -f "$1"; return 0; }
        sleep 0.1
    done
    say "$2 (pid $pid) ignored SIGTERM: SIGKILL"
    kill -KILL "$pid" 2>/dev/null
    rm -f "$1"
}

if pid_of "$D/run/slurmctld.pid" slurmctld >/dev/null; then
    ids=$(squeue -h -o %F 2>/dev/null | sort -u | tr '\n' ' ')
    if [ -n "${ids// /}" ]; then
        say "cancelling jobs: $ids"
        # shellcheck disable=SC2086  # ids are numbers printed by squeue
        scancel $ids 2>/dev/null
        for _ in $(seq 100); do  # KillWait=5: give slurmd time to reap the steps
            [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
            sleep 0.2
        done
    fi
fi

stop "$D/run/slurmd.pid" slurmd
stop "$D/run/slurmctld.pid" slurmctld
stop "$D/run/slurmdbd.pid" slurmdbd
stop "$D/run/mariadbd.pid" mariadbd
stop "$D/munge/munged.pid" munged

if [ "$PURGE" = 1 ]; then
    say "removing $D"
    rm -rf -- "$D"
fi
say "down"
