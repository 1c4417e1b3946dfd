#!/usr/bin/env bash
# Install or update ЭЖ-box on Raspberry Pi OS (Bookworm). Run as root from a checkout:
#
#     sudo deploy/raspi/install.sh
#
# Safe to run again: it updates the program, keeps the data, copies the database
# before migrating it, and creates a school (printing its one-time setup code) only
# when there is no database yet.
set -euo pipefail

APP_USER=ezh
DATA_DIR=/var/lib/ezh
VENV=/opt/ezh
PORT=8080
UNIT=ezh-web.service
WORKER_UNIT=ezh-worker.service
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC="$(cd "$HERE/../.." && pwd)"
DB="$DATA_DIR/ezh.sqlite3"

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'ОШИБКА: %s\n' "$*" >&2; exit 1; }
as_app() { runuser -u "$APP_USER" -- "$@"; }

[[ $EUID -eq 0 ]] || die "запустите от root: sudo $0"
[[ -f "$SRC/pyproject.toml" ]] || die "нет $SRC/pyproject.toml: запускайте скрипт из папки программы"

say "Системные пакеты"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends python3-venv sqlite3 avahi-daemon \
    libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core

say "Пользователь $APP_USER и каталог данных $DATA_DIR"
if ! id -u "$APP_USER" >/dev/null 2>&1; then
    useradd --system --user-group --home-dir "$DATA_DIR" --shell /usr/sbin/nologin \
        --comment "ЭЖ-box" "$APP_USER"
fi
install -d -o "$APP_USER" -g "$APP_USER" -m 0750 "$DATA_DIR"

say "Программа в $VENV"
if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --disable-pip-version-check --no-cache-dir --upgrade pip
# pip always rebuilds and reinstalls a local directory, so this also updates.
"$VENV/bin/pip" install --disable-pip-version-check --no-cache-dir --upgrade "$SRC"
install -m 0644 "$HERE/README.md" "$VENV/README-raspi.md"
# `ezh …` for the admin. It always runs as the service user, so the data files keep
# their owner (a database touched by root would stop the service).
printf '%s\n' \
    '#!/bin/sh' \
    "if [ \"\$(id -u)\" -eq 0 ]; then exec runuser -u $APP_USER -- $VENV/bin/ezh \"\$@\"; fi" \
    "exec sudo -u $APP_USER $VENV/bin/ezh \"\$@\"" \
    >/usr/local/bin/ezh
chmod 0755 /usr/local/bin/ezh

say "База данных"
setup_text=""
if [[ -f "$DB" ]]; then
    if systemctl is-active --quiet "$UNIT"; then
        systemctl stop "$UNIT"
    fi
    backups="$DATA_DIR/backups"
    install -d -o "$APP_USER" -g "$APP_USER" -m 0750 "$backups"
    copy="$backups/before-update-$(date +%Y%m%d-%H%M%S).sqlite3"
    as_app sqlite3 "$DB" ".backup '$copy'"
    echo "Копия базы перед обновлением: $copy"
    # Keep the three newest copies.
    find "$backups" -maxdepth 1 -name 'before-update-*.sqlite3' -printf '%T@ %p\n' \
        | sort -rn | tail -n +4 | cut -d' ' -f2- | xargs -r rm -f --
    as_app "$VENV/bin/ezh" migrate --data "$DATA_DIR"
else
    setup_text="$(as_app "$VENV/bin/ezh" init --data "$DATA_DIR")"
    echo "$setup_text"
fi

say "Службы systemd и avahi"
install -m 0644 "$HERE/ezh-web.service" "/etc/systemd/system/$UNIT"
install -m 0644 "$HERE/ezh-worker.service" "/etc/systemd/system/$WORKER_UNIT"
install -d -m 0755 /etc/avahi/services
install -m 0644 "$HERE/ezh.avahi.service" /etc/avahi/services/ezh.service
systemctl daemon-reload
systemctl enable "$UNIT" "$WORKER_UNIT"
systemctl restart "$UNIT" "$WORKER_UNIT"
systemctl enable avahi-daemon.service
systemctl try-reload-or-restart avahi-daemon.service

say "Проверка"
healthy=no
for _ in $(seq 1 30); do
    if "$VENV/bin/python" -c \
        'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
        "http://127.0.0.1:$PORT/healthz" 2>/dev/null; then
        healthy=yes
        break
    fi
    sleep 1
done
if [[ $healthy != yes ]]; then
    journalctl -u "$UNIT" -n 30 --no-pager || true
    die "сервер не ответил на /healthz; журнал выше, подробнее: journalctl -u $UNIT"
fi

echo
echo "ЭЖ-box работает. Адреса в школьной сети:"
echo "    http://$(hostname).local:$PORT/"
for ip in $(hostname -I 2>/dev/null || true); do
    [[ $ip == *:* ]] && continue  # IPv4 is what people can type
    echo "    http://$ip:$PORT/"
done
if [[ -n $setup_text ]]; then
    echo
    echo "$setup_text"
    echo "Потеряли код? Новый выдаст: sudo ezh init --data $DATA_DIR"
fi
