#!/usr/bin/env bash
# Bring up a real single-node SLURM (with accounting) on this machine, for simtune's tests.
#
#   sudo scripts/slurm-up.sh          # idempotent: fast (< 1 s) when everything is already up
#   sudo scripts/slurm-up.sh --limits # a cluster with real-world limits: MaxArraySize=5 and a
#                                     # QOS simtune_limited (MaxSubmitJobsPerUser=8) as the
#                                     # user's default; the next run without --limits restores
#                                     # the normal ones (both restart slurmctld + slurmd)
#
# No systemd: every daemon is started by hand. Everything the daemons write (state, spool, logs,
# pid files, the MariaDB datadir) lives under one folder, $SIMTUNE_SLURM_DIR
# (default /var/tmp/simtune-slurm). Configs go to /etc/slurm/ (where sbatch/sacct look for them),
# rendered from scripts/slurm/*.conf.in; a file there that this script did not write is left alone.
# Stop with scripts/slurm-down.sh. See docs/slurm.md.
set -euo pipefail

T0=$(date +%s.%N)
D=${SIMTUNE_SLURM_DIR:-/var/tmp/simtune-slurm}
CLUSTER=${SIMTUNE_SLURM_CLUSTER:-simtune}
DBPORT=${SIMTUNE_SLURM_DBPORT:-3307}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HOST=$(hostname -s)
MARKER="# managed by simtune scripts/slurm-up.sh"

elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }'; }
say() { echo "slurm-up: $*" >&2; }
die() { echo "slurm-up: ERROR: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "must run as root (daemons run as root/munge)"
LIMITS=0
for arg in "$@"; do
    case "$arg" in
        --limits) LIMITS=1 ;;
        *) die "unknown argument $arg (usage: slurm-up.sh [--limits])" ;;
    esac
done
# whose association gets the limited QOS (the user who runs the tests)
LIMIT_USER=${SIMTUNE_SLURM_LIMIT_USER:-${SUDO_USER:-root}}

# alive PIDFILE COMM -> true if the pid in PIDFILE runs a process named COMM
alive() {
    local pid
    [ -s "$1" ] || return 1
    pid=$(cat "$1" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}

# wait_for SECONDS CMD... -> retry CMD every 0.1 s
wait_for() {
    local limit=$1; shift
    local end=$(( $(date +%s) + limit ))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$end" ] || return 1
        sleep 0.1
    done
}

node_state() { sinfo -h -n "$HOST" -p debug -o %T 2>/dev/null | head -1; }
node_ready() { case "$(node_state)" in idle|mixed|allocated|completing) return 0;; esac; return 1; }
ctld_up() { scontrol ping 2>/dev/null | grep -q "is UP"; }

# ---------------------------------------------------------------------------- packages
need_install=0
for cmd in munged slurmctld slurmd sbatch slurmdbd mariadbd mariadb-install-db; do
    command -v "$cmd" >/dev/null 2>&1 || need_install=1
done
if [ "$need_install" = 1 ]; then
    say "installing packages"
    created_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        created_policy=1
        trap '[ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    PKGS=(munge slurmctld slurmd slurm-client slurmdbd mariadb-server)
    export DEBIAN_FRONTEND=noninteractive
    if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1 \
        || ! apt-get install -y --no-install-recommends "${PKGS[@]}" >"/tmp/simtune-slurm-apt.log" 2>&1; then
        apt-get update >>"/tmp/simtune-slurm-apt.log" 2>&1
        apt-get install -y --no-install-recommends "${PKGS[@]}" >>"/tmp/simtune-slurm-apt.log" 2>&1 \
            || die "apt-get install failed, see /tmp/simtune-slurm-apt.log"
    fi
    if [ "$created_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; created_policy=0; fi
fi

mkdir -p "$D"/{state,spool,run,log,etc,munge}
chmod 755 "$D"

# ---------------------------------------------------------------------------- configs
render() {  # render TEMPLATE -> stdout, substituting @VARS@
    local text
    text=$(<"$1")
    text=${text//@DIR@/$D}
    text=${text//@HOST@/$HOST}
    text=${text//@CLUSTER@/$CLUSTER}
    text=${text//@DBPORT@/$DBPORT}
    text=${text//@DBPASS@/$DBPASS}
    text=${text//@NODELINE@/$NODELINE}
    text=${text//@PROCTRACK@/$PROCTRACK}
    text=${text//@TASKPLUGIN@/$TASKPLUGIN}
    text=${text//@ACCTPARAMS@/$ACCTPARAMS}
    text=${text//@MAXARRAY@/$MAXARRAY}
    text=${text//@ENFORCE@/$ENFORCE}
    printf '%s\n' "$text"
}
# install_conf SRC DEST MODE -> 0 if DEST changed
install_conf() {
    if [ -e "$2" ] && ! head -1 "$2" | grep -qF "$MARKER"; then
        die "$2 exists and was not written by this script; move it away first"
    fi
    if [ -e "$2" ] && cmp -s "$1" "$2"; then rm -f "$1"; return 1; fi
    install -m "$3" -o root -g root "$1" "$2"
    rm -f "$1"
    return 0
}

if [ ! -s "$D/etc/dbpass" ]; then
    (umask 077; od -An -N16 -tx1 /dev/urandom | tr -d ' \n' > "$D/etc/dbpass")
fi
DBPASS=$(cat "$D/etc/dbpass")
if [ ! -s "$D/etc/nodeline" ]; then
    # NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24105
    hw=$(slurmd -C 2>/dev/null | grep '^NodeName=' | head -1)
    [ -n "$hw" ] || die "slurmd -C printed no node line"
    mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$hw")
    real=$(( mem * 95 / 100 ))  # a little below what the kernel reports, or the node is drained
    hw=$(sed "s/RealMemory=[0-9]*/RealMemory=$real/; s/^NodeName=[^ ]*/NodeName=$HOST/" <<<"$hw")
    echo "$hw NodeAddr=127.0.0.1 State=UNKNOWN" > "$D/etc/nodeline"
fi
NODELINE=$(cat "$D/etc/nodeline")

# Memory enforcement (docs/slurm.md): cgroup v1 when its memory + freezer controllers are mounted
# and writable (OOM then shows as OUT_OF_MEMORY in sacct); else linuxproc + OverMemoryKill.
# SIMTUNE_SLURM_CGROUP=1 insists on cgroups, =0 disables them, auto (default) probes.
cgroup_v1_ok() {
    local c probe
    for c in memory freezer; do
        mountpoint -q "/sys/fs/cgroup/$c" || return 1
        [ "$(stat -f -c %T "/sys/fs/cgroup/$c")" = cgroupfs ] || return 1
        probe="/sys/fs/cgroup/$c/simtune_probe_$$"
        mkdir "$probe" 2>/dev/null || return 1
        rmdir "$probe"
    done
}
CGROUP=${SIMTUNE_SLURM_CGROUP:-auto}
if [ "$CGROUP" != 0 ] && cgroup_v1_ok; then
    CGROUP=1 PROCTRACK=proctrack/cgroup TASKPLUGIN=task/cgroup ACCTPARAMS=NoOverMemoryKill
else
    [ "$CGROUP" = 1 ] && die "SIMTUNE_SLURM_CGROUP=1 but no writable cgroup v1 memory/freezer"
    CGROUP=0 PROCTRACK=proctrack/linuxproc TASKPLUGIN=task/none ACCTPARAMS=OverMemoryKill
fi
if [ "$LIMITS" = 1 ]; then
    MAXARRAY=5 ENFORCE="AccountingStorageEnforce=associations,limits,qos"
else
    MAXARRAY=10001 ENFORCE="# AccountingStorageEnforce: off (slurm-up.sh --limits turns it on)"
fi
# the QOS state matches the wanted mode? (the marker is written once the QOS is set up)
limits_ok() { [ "$LIMITS" = 1 ] && [ -e "$D/etc/limits" ] || { [ "$LIMITS" = 0 ] && [ ! -e "$D/etc/limits" ]; }; }
mkdir -p /etc/slurm
render "$HERE/slurm/slurm.conf.in" > "$D/etc/slurm.conf.new"
render "$HERE/slurm/slurmdbd.conf.in" > "$D/etc/slurmdbd.conf.new"
conf_changed=0
install_conf "$D/etc/slurm.conf.new" /etc/slurm/slurm.conf 644 && conf_changed=1
install_conf "$D/etc/slurmdbd.conf.new" /etc/slurm/slurmdbd.conf 600 || true
if [ "$CGROUP" = 1 ]; then
    render "$HERE/slurm/cgroup.conf.in" > "$D/etc/cgroup.conf.new"
    install_conf "$D/etc/cgroup.conf.new" /etc/slurm/cgroup.conf 644 && conf_changed=1
elif [ -e /etc/slurm/cgroup.conf ] && head -1 /etc/slurm/cgroup.conf | grep -qF "$MARKER"; then
    rm -f /etc/slurm/cgroup.conf
fi

# ---------------------------------------------------------------------------- fast path
if [ "$conf_changed" = 0 ] && limits_ok && alive "$D/munge/munged.pid" munged \
    && alive "$D/run/mariadbd.pid" mariadbd && alive "$D/run/slurmdbd.pid" slurmdbd \
    && alive "$D/run/slurmctld.pid" slurmctld && alive "$D/run/slurmd.pid" slurmd \
    && ctld_up && node_ready; then
    printf 'slurm-up: already UP: cluster=%s node=%s (%s) dir=%s in %.2f s\n' "$CLUSTER" "$HOST" \
        "$(node_state)" "$D" "$(elapsed)"
    exit 0
fi

# ---------------------------------------------------------------------------- munge
mkdir -p /etc/munge /run/munge
if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge /etc/munge/munge.key /run/munge "$D/munge"
chmod 700 /etc/munge "$D/munge"
chmod 400 /etc/munge/munge.key
chmod 755 /run/munge
if ! alive "$D/munge/munged.pid" munged; then
    say "starting munged"
    setpriv --reuid=munge --regid=munge --init-groups munged --force \
        --pid-file="$D/munge/munged.pid" --log-file="$D/munge/munged.log" \
        --seed-file="$D/munge/munged.seed"
    wait_for 10 bash -c 'munge -n | unmunge' || die "munge does not work, see $D/munge/munged.log"
fi

# ---------------------------------------------------------------------------- mariadb
SOCK="$D/run/mysqld.sock"
sql() { mariadb --no-defaults -S "$SOCK" -u root -e "$1"; }
if ! alive "$D/run/mariadbd.pid" mariadbd; then
    if [ ! -d "$D/mysql/mysql" ]; then
        say "creating the MariaDB datadir"
        rm -rf "$D/mysql"
        mariadb-install-db --no-defaults --datadir="$D/mysql" --user=root --skip-test-db \
            --auth-root-authentication-method=socket >"$D/log/mariadb-install.log" 2>&1 \
            || die "mariadb-install-db failed, see $D/log/mariadb-install.log"
    fi
    say "starting mariadbd on 127.0.0.1:$DBPORT"
    setsid mariadbd --no-defaults --datadir="$D/mysql" --socket="$SOCK" --port="$DBPORT" \
        --bind-address=127.0.0.1 --skip-name-resolve --user=root \
        --pid-file="$D/run/mariadbd.pid" --log-error="$D/log/mariadbd.log" \
        --innodb-buffer-pool-size=64M </dev/null >/dev/null 2>&1 &
    wait_for 30 mariadb-admin --no-defaults -S "$SOCK" -u root ping \
        || die "mariadbd did not come up, see $D/log/mariadbd.log"
    wait_for 10 test -s "$D/run/mariadbd.pid"
fi
sql "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$DBPASS';
     ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$DBPASS';
     GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"

# ---------------------------------------------------------------------------- slurmdbd
if ! alive "$D/run/slurmdbd.pid" slurmdbd; then
    say "starting slurmdbd"
    slurmdbd
fi
wait_for 30 sacctmgr -n list cluster || die "slurmdbd does not answer, see $D/log/slurmdbd.log"
if ! sacctmgr -n -P list cluster format=Cluster | grep -qx "$CLUSTER"; then
    sacctmgr -i add cluster "$CLUSTER" >/dev/null
fi
# limits mode: a QOS with MaxSubmitJobsPerUser=8, the user's default (limits apply at once)
if [ "$LIMITS" = 1 ] && [ ! -e "$D/etc/limits" ]; then
    say "limits: MaxArraySize=$MAXARRAY, QOS simtune_limited (MaxSubmitJobsPerUser=8) for $LIMIT_USER"
    sacctmgr -n -P list qos format=Name | grep -qx simtune_limited \
        || sacctmgr -i add qos simtune_limited >/dev/null
    sacctmgr -i modify qos simtune_limited set MaxSubmitJobsPerUser=8 >/dev/null
    sacctmgr -i modify user "$LIMIT_USER" set qos=normal,simtune_limited \
        defaultqos=simtune_limited >/dev/null || die "no association for user $LIMIT_USER"
    echo "$LIMIT_USER" > "$D/etc/limits"
elif [ "$LIMITS" = 0 ] && [ -e "$D/etc/limits" ]; then
    who=$(cat "$D/etc/limits")
    say "restoring normal limits (MaxArraySize=$MAXARRAY, QOS normal for $who)"
    sacctmgr -i modify user "$who" set qos=normal defaultqos=normal >/dev/null || true
    rm -f "$D/etc/limits"
fi

# ---------------------------------------------------------------------------- slurmctld, slurmd
# stop_daemon PIDFILE COMM: only the pid in our pid file, and only if it runs COMM
stop_daemon() {
    local pid
    alive "$1" "$2" || return 0
    pid=$(cat "$1")
    kill -TERM "$pid"
    wait_for 20 bash -c "[ \"\$(cat /proc/$pid/comm 2>/dev/null)\" != $2 ]" || kill -KILL "$pid"
}
if [ "$conf_changed" = 1 ]; then  # plugin changes need a restart, not just reconfigure
    say "slurm.conf changed: restarting slurmctld and slurmd"
    stop_daemon "$D/run/slurmd.pid" slurmd
    stop_daemon "$D/run/slurmctld.pid" slurmctld
fi
if [ -s "$D/state/clustername" ] && [ "$(cat "$D/state/clustername")" != "$CLUSTER" ]; then
    say "saved state belongs to cluster $(cat "$D/state/clustername"): discarding it"
    rm -rf "$D/state"; mkdir -p "$D/state"
fi
if ! alive "$D/run/slurmctld.pid" slurmctld; then
    say "starting slurmctld"
    slurmctld
fi
wait_for 30 ctld_up || die "slurmctld is not UP, see $D/log/slurmctld.log"
if ! alive "$D/run/slurmd.pid" slurmd; then
    say "starting slurmd -N $HOST"
    slurmd -N "$HOST"
fi

# ---------------------------------------------------------------------------- wait for the node
end=$(( $(date +%s) + 60 ))
until node_ready; do
    case "$(node_state)" in
        down*|drain*|drained*|fail*)
            scontrol update NodeName="$HOST" State=RESUME >/dev/null 2>&1 || true ;;
    esac
    [ "$(date +%s)" -lt "$end" ] || die "node $HOST is $(node_state), see $D/log/slurmd.log"
    sleep 0.2
done

printf 'slurm-up: UP: cluster=%s node=%s (%s, %s) partitions=debug,maint(DOWN) memory=%s limits=%s dir=%s in %.1f s\n' \
    "$CLUSTER" "$HOST" "$(node_state)" \
    "$(sed 's/.*CPUs=\([0-9]*\).*RealMemory=\([0-9]*\).*/\1 CPUs, \2 MB/' <<<"$NODELINE")" \
    "$([ "$CGROUP" = 1 ] && echo cgroup-v1 || echo linuxproc+OverMemoryKill)" \
    "$([ "$LIMITS" = 1 ] && echo "MaxArraySize=5,MaxSubmitJobsPerUser=8" || echo normal)" "$D" \
    "$(elapsed)"
