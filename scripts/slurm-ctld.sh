#!/usr/bin/env bash
# Stop or start slurmctld alone, for tests of a scheduler outage (docs/slurm.md):
#
#   sudo scripts/slurm-ctld.sh stop    # SIGTERM to the pid in our pid file (if it is slurmctld)
#   sudo scripts/slurm-ctld.sh start   # scripts/slurm-up.sh: starts what is missing, waits UP
#
# Only the pid in $SIMTUNE_SLURM_DIR/run/slurmctld.pid is signalled, after checking
# /proc/PID/comm; nothing is ever killed by name. Jobs keep running on slurmd meanwhile.
set -euo pipefail

D=${SIMTUNE_SLURM_DIR:-/var/tmp/simtune-slurm}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
say() { echo "slurm-ctld: $*" >&2; }
[ "$(id -u)" -eq 0 ] || { say "must run as root"; exit 1; }

case "${1:-}" in
    stop)
        pidfile="$D/run/slurmctld.pid"
        pid=$(cat "$pidfile" 2>/dev/null || true)
        if ! [[ $pid =~ ^[0-9]+$ ]] || [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != slurmctld ]; then
            say "slurmctld not running"; exit 0
        fi
        say "stopping slurmctld (pid $pid)"
        kill -TERM "$pid"
        for _ in $(seq 200); do
            [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = slurmctld ] || { say "stopped"; exit 0; }
            sleep 0.1
        done
        say "slurmctld (pid $pid) ignored SIGTERM: SIGKILL"
        kill -KILL "$pid"
        ;;
    start)
        exec "$HERE/slurm-up.sh" ;;
    *)
        say "usage: slurm-ctld.sh stop|start"; exit 2 ;;
esac
