#!/usr/bin/env bash
# ЭЖ-box watchdog (run every minute by ezh-watchdog.timer, as root).
#
# The web server: when /healthz gets no HTTP answer at all (refused, timed out) twice
# in a row, ezh-web is restarted. An answer, even 503 (a problem `ezh doctor`
# explains), means the process is alive: a restart would not help.
# The worker: when its heartbeat (written every minute between jobs) is older than
# 10 minutes and no job is running (a long archive build legitimately holds it),
# ezh-worker is restarted; so is a worker whose job has run more than 3 hours (they
# normally finish within 30 minutes) while its heartbeat is stale as well.
# A service that is enabled but not running (left stopped by an interrupted upgrade) is
# started again after 5 minutes, unless an upgrade holds its lock right now.
# The app does not call sd_notify, so systemd's own WatchdogSec= cannot be used.
set -euo pipefail

URL=${EZH_HEALTH_URL:-http://127.0.0.1:80/healthz}
DB=${EZH_DB:-/var/lib/ezh/ezh.sqlite3}
STATE=${EZH_WATCHDOG_STATE:-/run/ezh-watchdog}
WEB_FAILS_TO_RESTART=2
# A just (re)started unit is left alone this long; the probe waits this long (tests
# shorten both).
GRACE_SECONDS=${EZH_WATCHDOG_GRACE:-120}
PROBE_SECONDS=${EZH_WATCHDOG_TIMEOUT:-20}
WORKER_STALE_MINUTES=${EZH_WATCHDOG_WORKER_STALE_MIN:-10}
JOB_STUCK_MINUTES=${EZH_WATCHDOG_JOB_STUCK_MIN:-180}
UPGRADE_LOCK=${EZH_UPGRADE_LOCK:-/run/ezh-upgrade.lock}
# A service stopped by hand is left alone this long (to stop it for longer, stop the
# watchdog too: sudo systemctl stop ezh-watchdog.timer ezh-web ezh-worker).
STOPPED_SECONDS=${EZH_WATCHDOG_STOPPED:-300}

log() { printf '%s\n' "$*"; }

# Seconds since the unit last became active; empty when it is not active.
active_for() {
    local unit=$1 since now
    systemctl is-active --quiet "$unit" || return 0
    since=$(systemctl show -p ActiveEnterTimestampMonotonic --value "$unit")
    # CLOCK_MONOTONIC, the clock of that timestamp (/proc/uptime may be another one).
    now=$(python3 -c 'import time; print(time.monotonic_ns() // 1000)')
    echo $(((now - since) / 1000000))
}

check_web() {
    local age code fails=0 file="$STATE/web-fails"
    age=$(active_for ezh-web.service)
    # Not running (systemd is restarting it) or just started: nothing to judge yet.
    if [[ -z $age || $age -lt $GRACE_SECONDS ]]; then
        rm -f "$file"
        return 0
    fi
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time "$PROBE_SECONDS" "$URL" || true)
    if [[ $code != 000 && -n $code ]]; then
        rm -f "$file"
        return 0
    fi
    [[ -f $file ]] && fails=$(cat "$file")
    fails=$((fails + 1))
    if [[ $fails -lt $WEB_FAILS_TO_RESTART ]]; then
        echo "$fails" >"$file"
        log "веб-сервер не ответил на $URL ($fails раз подряд)"
        return 0
    fi
    rm -f "$file"
    log "веб-сервер не отвечает $fails раза подряд: перезапускаю ezh-web"
    systemctl restart ezh-web.service
}

# sqlite3 as the service's user: a root-owned -wal/-shm would lock the service out.
query() {
    runuser -u ezh -- sqlite3 -readonly "$DB" "$1" 2>/dev/null || true
}

# Seconds since the unit stopped (0 when systemd does not say).
inactive_for() {
    local since now
    since=$(systemctl show -p InactiveEnterTimestampMonotonic --value "$1")
    [[ ${since:-0} -gt 0 ]] || {
        echo 0
        return 0
    }
    now=$(python3 -c 'import time; print(time.monotonic_ns() // 1000)')
    echo $(((now - since) / 1000000))
}

# Enabled but inactive units (an upgrade interrupted between stop and start): started,
# unless an upgrade is at work (it holds the lock and starts them itself).
check_stopped() {
    local unit
    if [[ -e $UPGRADE_LOCK ]] && ! flock -n "$UPGRADE_LOCK" true; then
        return 0
    fi
    for unit in ezh-web.service ezh-worker.service; do
        if systemctl is-enabled --quiet "$unit" &&
            [[ $(systemctl show -p ActiveState --value "$unit") == inactive ]] &&
            [[ $(inactive_for "$unit") -ge $STOPPED_SECONDS ]]; then
            log "$unit включена, но остановлена больше $STOPPED_SECONDS с: запускаю"
            systemctl start "$unit" || true
        fi
    done
}

check_worker() {
    local age beat running stale stuck oldest
    age=$(active_for ezh-worker.service)
    if [[ -z $age || $age -lt $((WORKER_STALE_MINUTES * 60)) || ! -f $DB ]]; then
        return 0
    fi
    beat=$(query "SELECT last_run_at FROM schedule_run WHERE name = 'worker_heartbeat'")
    [[ -n $beat ]] || return 0
    # The heartbeat is naive local time "YYYY-MM-DD HH:MM:SS": compared as text.
    stale=$(date -d "-$WORKER_STALE_MINUTES min" '+%Y-%m-%d %H:%M:%S')
    [[ $beat < $stale ]] || return 0
    running=$(query "SELECT count(*) FROM job WHERE state = 'running'")
    if [[ ${running:-0} != 0 ]]; then
        oldest=$(query "SELECT min(started_at) FROM job WHERE state = 'running'")
        stuck=$(date -d "-$JOB_STUCK_MINUTES min" '+%Y-%m-%d %H:%M:%S')
        if [[ -n $oldest && $oldest < $stuck ]]; then
            log "задание выполняется с $oldest, а фоновые задания молчат с $beat: перезапускаю ezh-worker"
            systemctl restart ezh-worker.service
        fi
        return 0
    fi
    if [[ $beat < $stale ]]; then
        log "фоновые задания молчат с $beat и ничего не выполняют: перезапускаю ezh-worker"
        systemctl restart ezh-worker.service
    fi
}

mkdir -p "$STATE"
check_stopped
check_web
check_worker
