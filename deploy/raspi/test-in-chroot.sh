#!/usr/bin/env bash
# Test install.sh for real in a throw-away Debian 12 root (debootstrap + chroot), as root:
#
#     sudo deploy/raspi/test-in-chroot.sh [ROOT]      (default /tmp/ezh-deb-root)
#
# Makes (or reuses, from $EZH_DEBOOTSTRAP_CACHE) a minimal bookworm root, binds this
# checkout into it read-only, runs install.sh --tls inside (systemd does not run there:
# units are installed and enabled, not started), then checks inside the root:
# systemd-analyze verify of the installed units, nginx -t, the installed `ezh` serving
# the installed (empty) school and the demo school (curl of the first page and
# /healthz), `ezh doctor`, a second install.sh (idempotence: upgrade path), an upgrade
# that fails after the switch (rollback), and uninstall.sh (data kept).
# Prints the time of each step; the last line is a JSON summary. Exit 0 = all passed.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT=${1:-/tmp/ezh-deb-root}
# shellcheck source-path=SCRIPTDIR source=test-root.sh
. "$HERE/test-root.sh"
WEB_PORT=${EZH_TEST_PORT:-18080}
DEMO_PORT=$((WEB_PORT + 1))
PIDS=()
declare -A TIMES

[[ $EUID -eq 0 ]] || {
    echo "запустите от root" >&2
    exit 1
}
command -v debootstrap >/dev/null || {
    echo "нужен debootstrap: apt-get install -y debootstrap" >&2
    exit 1
}

in_root() {
    env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 TERM=dumb EZH_NO_SYSTEMD=1 "${EXTRA_ENV[@]}" \
        chroot "$ROOT" "$@"
}

# A server in the root, in the background, as USER: exec all the way down, so the
# recorded pid is the server's own (or runuser's, which passes SIGTERM on to it).
serve_in_root() {
    local log=$1 user=$2
    shift 2
    local run=(runuser -u "$user" --)
    [[ $user == root ]] && run=()
    (exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        chroot "$ROOT" "${run[@]}" "$@" >"$ROOT$log" 2>&1) &
    PIDS+=($!)
}

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    sleep 1
    for mnt in src dev/pts dev sys proc; do
        if mountpoint -q "$ROOT/$mnt"; then
            umount -l "$ROOT/$mnt" || true
        fi
    done
}
trap cleanup EXIT

step() {
    printf '\n######## %s\n' "$1"
    STEP_NAME=$1
    STEP_START=$SECONDS
}
done_step() {
    TIMES[$STEP_NAME]=$((SECONDS - STEP_START))
    printf '######## %s: %d с\n' "$STEP_NAME" "${TIMES[$STEP_NAME]}"
}

wait_http() { # url, seconds: prints the status code of the first answer
    local code
    for _ in $(seq 1 "$2"); do
        code=$(in_root curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1" || true)
        if [[ $code != 000 ]]; then
            echo "$code"
            return 0
        fi
        sleep 1
    done
    echo 000
    return 1
}

step debootstrap
cleanup
fresh_root
done_step

step mounts
mount_root
done_step

step install
in_root /src/deploy/raspi/install.sh --tls 2>&1 | tee "$ROOT/root/install.log"
done_step

step verify-units
units=(ezh-web.service ezh-worker.service ezh-watchdog.service ezh-watchdog.timer
    ezh-archive-mount.service ezh-tls-renew.service ezh-tls-renew.timer)
for unit in "${units[@]}"; do
    test -f "$ROOT/etc/systemd/system/$unit"
done
in_root systemd-analyze verify "${units[@]/#//etc/systemd/system/}"
echo "systemd-analyze verify: без замечаний"
for link in multi-user.target.wants/ezh-web.service multi-user.target.wants/ezh-worker.service \
    timers.target.wants/ezh-watchdog.timer timers.target.wants/ezh-tls-renew.timer \
    'dev-disk-by\x2dlabel-EZH\x2dARCHIVE.device.wants/ezh-archive-mount.service'; do
    test -L "$ROOT/etc/systemd/system/$link" || {
        echo "не включено: $link" >&2
        exit 1
    }
done
echo "службы включены (ссылки в /etc/systemd/system/*.wants)"
in_root nginx -t
in_root stat -c '%U:%G %a %n' /var/lib/ezh /var/lib/ezh/ezh.sqlite3 /var/lib/ezh/secret_key
[[ $(in_root stat -c '%U:%G %a' /var/lib/ezh) == "ezh:ezh 750" ]]
[[ $(in_root stat -c '%U:%G %a' /var/lib/ezh/ezh.sqlite3) == "ezh:ezh 640" ]]
grep -q 'archive_media = "/media/ezh-archive"' "$ROOT/var/lib/ezh/ezh.toml"
[[ $(cat "$ROOT/etc/hostname") == ezh ]]
# The school's time zone, the install choices, the offline TLS tools, a CA that signs
# for the school's network only.
[[ $(readlink "$ROOT/etc/localtime") == */zoneinfo/Europe/Samara ]]
grep -qx 'HOSTNAME=ezh' "$ROOT/etc/ezh/install.conf"
[[ $(stat -c '%a' "$ROOT/etc/ezh") == 755 && $(stat -c '%a' "$ROOT/etc/ezh/tls") == 755 ]]
[[ $(stat -c '%a' "$ROOT/etc/ezh/tls/ca.key") == 600 && $(stat -c '%a' "$ROOT/etc/ezh/tls/ezh.key") == 600 ]]
test -x "$ROOT/usr/local/lib/ezh/make-cert.sh" && test -x "$ROOT/usr/local/lib/ezh/tls-setup.sh"
in_root openssl x509 -in /etc/ezh/tls/ca.crt -noout -ext nameConstraints | grep -q 'DNS:local'
echo "часовой пояс Europe/Samara, /etc/ezh/install.conf, ЦС с nameConstraints"
done_step

step serve-installed
serve_in_root /tmp/serve.log ezh /opt/ezh/bin/ezh serve --data /var/lib/ezh \
    --host 127.0.0.1 --port "$WEB_PORT"
first=$(wait_http "http://127.0.0.1:$WEB_PORT/" 60)
health=$(in_root curl -s "http://127.0.0.1:$WEB_PORT/healthz")
echo "первая страница: HTTP $first; /healthz: $health"
[[ $first == 200 || $first == 302 ]]
[[ $health == *'"ok":true'* || $health == *'"ok": true'* ]]
in_root curl -sL "http://127.0.0.1:$WEB_PORT/" | grep -q 'Код настройки' # the setup wizard
done_step

step tls
# The installed nginx site as it is, moved to a loopback test port and pointed at the
# test server: HTTPS with the box's CA, through nginx, to the journal.
TLS_PORT=$((WEB_PORT + 2))
{
    echo "pid /tmp/nginx-test.pid; error_log /tmp/nginx-test.err; events {}"
    echo "http { access_log off;"
    sed -e "s/listen 443 ssl http2;/listen 127.0.0.1:$TLS_PORT ssl http2;/" \
        -e '/listen \[::\]:443/d' \
        -e "s#proxy_pass http://127.0.0.1:80;#proxy_pass http://127.0.0.1:$WEB_PORT;#" \
        "$ROOT/etc/nginx/sites-available/ezh-tls.conf"
    echo "}"
} >"$ROOT/tmp/nginx-test.conf"
serve_in_root /tmp/nginx-test.log root nginx -c /tmp/nginx-test.conf -g 'daemon off;'
sleep 2
tls=$(in_root curl -sS --cacert /etc/ezh/tls/ca.crt --resolve "ezh.local:$TLS_PORT:127.0.0.1" \
    "https://ezh.local:$TLS_PORT/healthz")
echo "https://ezh.local/healthz через nginx, проверка по ЦС коробки: $tls"
[[ $tls == *'"ok":true'* ]]
in_root openssl x509 -in /etc/ezh/tls/ezh.crt -noout -subject -enddate -ext subjectAltName
done_step

step doctor
set +e
in_root /usr/local/bin/ezh doctor --data /var/lib/ezh --no-network >"$ROOT/tmp/doctor.txt" 2>&1
DOCTOR_RC=$?
set -e
cat "$ROOT/tmp/doctor.txt"
echo "ezh doctor: код выхода $DOCTOR_RC (на новой коробке ожидаемо 2: нет ключей архива, копий, фоновых заданий)"
[[ $DOCTOR_RC -eq 2 ]] && ! grep -q Traceback "$ROOT/tmp/doctor.txt"
grep -q '^✓ Сертификат HTTPS' "$ROOT/tmp/doctor.txt"
done_step

step demo
serve_in_root /tmp/demo.log ezh /opt/ezh/bin/ezh demo --data /tmp/ezh-demo \
    --host 127.0.0.1 --port "$DEMO_PORT"
code=$(wait_http "http://127.0.0.1:$DEMO_PORT/healthz" 300)
login=$(in_root curl -sL "http://127.0.0.1:$DEMO_PORT/")
echo "демо: /healthz HTTP $code; первая страница: $(grep -o '<title>[^<]*' <<<"$login" | head -1)"
[[ $code == 200 ]]
grep -q 'name="password"' <<<"$login"
done_step

kill "${PIDS[@]}" 2>/dev/null || true
wait "${PIDS[@]}" 2>/dev/null || true
PIDS=()

step install-again
# The school renamed the box and chose its zone: a second install keeps both.
echo school-box >"$ROOT/etc/hostname"
ln -sfn /usr/share/zoneinfo/Asia/Yekaterinburg "$ROOT/etc/localtime"
in_root /src/deploy/raspi/install.sh 2>&1 | tail -n 12
[[ $(in_root ls /opt/ezh-venvs | wc -l) -eq 2 ]]
[[ $(cat "$ROOT/etc/hostname") == school-box ]]
[[ $(readlink "$ROOT/etc/localtime") == */Asia/Yekaterinburg ]]
echo "повторная установка: имя school-box и пояс Asia/Yekaterinburg сохранены"
done_step

step upgrade-rollback
before=$(readlink "$ROOT/opt/ezh")
set +e
in_root env EZH_TEST_BREAK_UPGRADE=1 /src/deploy/raspi/upgrade.sh >"$ROOT/tmp/rollback.log" 2>&1
rc=$?
set -e
tail -n 6 "$ROOT/tmp/rollback.log"
after=$(readlink "$ROOT/opt/ezh")
echo "неудачное обновление: код $rc; /opt/ezh было $before, стало $after"
[[ $rc -ne 0 && $before == "$after" ]]
grep -q 'возвращена копия' "$ROOT/tmp/rollback.log"
grep -q 'отложены в' "$ROOT/tmp/rollback.log"
compgen -G "$ROOT/var/lib/ezh/backups/failed-upgrade-*.sqlite3" >/dev/null
test -f "$ROOT/etc/systemd/system/ezh-web.service"
in_root runuser -u ezh -- /opt/ezh/bin/ezh migrate --data /var/lib/ezh
done_step

step uninstall
in_root /usr/local/lib/ezh/uninstall.sh --yes
[[ ! -e $ROOT/opt/ezh && ! -e $ROOT/etc/systemd/system/ezh-web.service ]]
[[ -f $ROOT/var/lib/ezh/ezh.sqlite3 ]]
if find "$ROOT/etc/systemd/system" -name 'ezh*' | grep -q .; then
    echo "остались ссылки служб:" >&2
    find "$ROOT/etc/systemd/system" -name 'ezh*' >&2
    exit 1
fi
echo "удалено (и ссылки служб); данные школы на месте"
done_step

printf '\n{"ok": true, "doctor_exit": %d' "$DOCTOR_RC"
for name in "${!TIMES[@]}"; do
    printf ', "%s_s": %d' "$name" "${TIMES[$name]}"
done
printf '}\n'
