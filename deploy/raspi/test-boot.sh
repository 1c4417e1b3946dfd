#!/usr/bin/env bash
# Boot an installed ЭЖ-box with systemd as PID 1 (systemd-nspawn, private network: only
# loopback, nothing leaves the machine) and check what a chroot cannot: the units start
# with all their hardening, the web server answers on port 80, a killed server comes
# back by itself (Restart=always), the watchdog runs.
#
#     sudo deploy/raspi/test-boot.sh [ROOT]      (default /tmp/ezh-boot-root)
#
# Needs debootstrap and systemd-container (systemd-nspawn). The root is made like
# test-in-chroot.sh makes it (install.sh inside a chroot), then booted.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT=${1:-/tmp/ezh-boot-root}
# shellcheck source-path=SCRIPTDIR source=test-root.sh
. "$HERE/test-root.sh"
NSPAWN_PID=""
WHEELS=/var/cache/ezh-wheels # inside the root

need_root_and debootstrap systemd-nspawn nsenter

cleanup() {
    stop_container "$NSPAWN_PID"
    unmount_all
}
trap cleanup EXIT

started=$SECONDS
echo "######## корень и установка (chroot)"
if [[ ${EZH_BOOT_REUSE:-0} == 1 && -L $ROOT/opt/ezh ]]; then
    echo "(EZH_BOOT_REUSE=1: беру уже установленный $ROOT)"
else
    # Wheels for the upgrade test (with the build backend): the booted box has no
    # network, only loopback.
    make_root /opt/ezh/bin/pip wheel --quiet --disable-pip-version-check -w "$WHEELS" \
        /src hatchling
fi
install_s=$((SECONDS - started))
echo "установлено за $install_s с"

echo "######## загрузка (systemd-nspawn --boot --private-network)"
boot_start=$SECONDS
leader=""
boot_root NSPAWN_PID leader /tmp/ezh-boot-console.log --private-network --bind-ro="$SRC:/src"
inside() { enter "$leader" "$@"; }

# Up to 120 s for the server to answer on port 80.
health=""
for _ in $(seq 1 120); do
    health=$(inside curl -fsS --max-time 3 http://127.0.0.1/healthz 2>/dev/null || true)
    [[ -n $health ]] && break
    sleep 1
done
boot_s=$((SECONDS - boot_start))
inside systemctl --no-pager status ezh-web ezh-worker 2>&1 | head -n 30 || true
echo "/healthz на порту 80 через $boot_s с после старта: ${health:-нет ответа}"
[[ $health == *'"ok":true'* ]] || {
    inside journalctl --no-pager -u ezh-web -u ezh-worker -n 40 || true
    exit 1
}
inside systemctl is-active ezh-web ezh-worker ezh-watchdog.timer avahi-daemon

echo "######## падение: kill -9 веб-сервера"
inside systemctl kill --kill-whom=main --signal=SIGKILL ezh-web.service
back=""
for i in $(seq 1 30); do
    sleep 1
    if inside curl -fsS -o /dev/null --max-time 3 http://127.0.0.1/healthz 2>/dev/null; then
        back=$i
        break
    fi
done
restarts=$(inside systemctl show -p NRestarts --value ezh-web)
echo "сервер снова отвечает через ${back:-—} с; NRestarts=$restarts"
[[ -n $back && $restarts -ge 1 ]]

echo "######## зависание: SIGSTOP веб-сервера, сторож"
hung_pid=$(inside systemctl show -p MainPID --value ezh-web)
inside systemctl kill --kill-whom=main --signal=SIGSTOP ezh-web.service
watch() { inside env EZH_WATCHDOG_GRACE=0 EZH_WATCHDOG_TIMEOUT=3 /src/deploy/raspi/watchdog.sh; }
watch
watch
healed=""
for i in $(seq 1 30); do
    if inside curl -fsS -o /dev/null --max-time 3 http://127.0.0.1/healthz 2>/dev/null; then
        healed=$i
        break
    fi
    sleep 1
done
new_pid=$(inside systemctl show -p MainPID --value ezh-web)
echo "завис PID $hung_pid; сторож перезапустил: PID $new_pid, отвечает через ${healed:-—} с"
[[ -n $healed && $new_pid != "$hung_pid" ]]

echo "######## зависшие фоновые задания: SIGSTOP ezh-worker, сторож"
hung_pid=$(inside systemctl show -p MainPID --value ezh-worker)
inside systemctl kill --kill-whom=main --signal=SIGSTOP ezh-worker.service
sleep 2 # the heartbeat (written at the worker's start) is now in the past
inside env EZH_WATCHDOG_WORKER_STALE_MIN=0 /src/deploy/raspi/watchdog.sh
sleep 2
new_pid=$(inside systemctl show -p MainPID --value ezh-worker)
echo "завис PID $hung_pid; сторож перезапустил: PID $new_pid"
[[ $new_pid != "$hung_pid" && $(inside systemctl is-active ezh-worker) == active ]]

echo "######## сторож по таймеру и флешка"
inside systemctl start ezh-watchdog.service
inside systemctl show -p Result --value ezh-watchdog.service
[[ $(inside systemctl show -p Result --value ezh-watchdog.service) == success ]]
inside systemctl is-enabled ezh-archive-mount.service

echo "######## обновление при работающих службах (колёса из $WHEELS, без сети)"
upgrade() { inside env PIP_NO_INDEX=1 PIP_FIND_LINKS="$WHEELS" "$@" /src/deploy/raspi/upgrade.sh; }
before=$(readlink "$ROOT/opt/ezh")
upgrade_start=$SECONDS
upgrade >/tmp/ezh-boot-upgrade.log 2>&1 || {
    cat /tmp/ezh-boot-upgrade.log
    exit 1
}
tail -n 3 /tmp/ezh-boot-upgrade.log
upgrade_s=$((SECONDS - upgrade_start))
after=$(readlink "$ROOT/opt/ezh")
echo "обновление за $upgrade_s с: $before -> $after"
[[ $before != "$after" ]]
inside curl -fsS -o /dev/null http://127.0.0.1/healthz

echo "######## неудачное обновление: откат при работающих службах"
set +e
upgrade EZH_TEST_BREAK_UPGRADE=1 >/tmp/ezh-boot-rollback.log 2>&1
rc=$?
set -e
tail -n 5 /tmp/ezh-boot-rollback.log
[[ $rc -ne 0 && $(readlink "$ROOT/opt/ezh") == "$after" ]]
inside systemctl is-active ezh-web ezh-worker
inside curl -fsS -o /dev/null http://127.0.0.1/healthz
echo "откат: код $rc, работает прежняя версия $after, /healthz отвечает"

echo "######## самопроверка в загруженной коробке"
set +e
inside /usr/local/bin/ezh doctor --data /var/lib/ezh --no-network
doctor_rc=$?
set -e

echo "######## systemd-analyze security"
inside systemd-analyze security --no-pager ezh-web.service ezh-worker.service 2>&1 | tail -n 4 || true

printf '\n{"ok": true, "install_s": %d, "boot_to_healthz_s": %d, "restart_after_kill_s": %d, "upgrade_s": %d, "doctor_exit": %d}\n' \
    "$install_s" "$boot_s" "$back" "$upgrade_s" "$doctor_rc"
