#!/usr/bin/env bash
# Install ЭЖ-box on Debian 12 (bookworm) / Raspberry Pi OS (Bookworm), arm64 or amd64.
# Run as root from the program's folder (a checkout):
#
#     sudo deploy/raspi/install.sh [--tls] [--hostname NAME | --keep-hostname]
#
# Safe to run again: a second run refreshes the system files and updates the program
# through upgrade.sh (backup, migrate, health check, rollback on failure); the school's
# data in /var/lib/ezh is never touched otherwise. Without a running systemd (a chroot,
# an image being prepared) units are installed and enabled but not started.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC="$(cd "$HERE/../.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$HERE/common.sh"

usage() {
    cat <<'EOF'
Установка ЭЖ-box на Debian 12 / Raspberry Pi OS (Bookworm).

    sudo deploy/raspi/install.sh [ключи]

  --hostname ИМЯ    имя коробки в сети (по умолчанию ezh: адрес http://ezh.local/)
  --keep-hostname   не менять имя компьютера
  --tls             дополнительно включить HTTPS (nginx-light, свой центр сертификации,
                    см. docs/tls.md); обычный HTTP остаётся
  -h, --help        эта справка
EOF
}

NEW_HOSTNAME=ezh
WITH_TLS=no
while [[ $# -gt 0 ]]; do
    case $1 in
        --hostname)
            [[ $# -ge 2 ]] || die "после --hostname укажите имя"
            NEW_HOSTNAME=$2
            shift
            ;;
        --keep-hostname) NEW_HOSTNAME="" ;;
        --tls) WITH_TLS=yes ;;
        -h | --help)
            usage
            exit 0
            ;;
        *) die "неизвестный ключ: $1 (справка: $0 --help)" ;;
    esac
    shift
done
if [[ -n $NEW_HOSTNAME && ! $NEW_HOSTNAME =~ ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$ ]]; then
    die "имя «$NEW_HOSTNAME» не подходит: только латинские буквы, цифры и дефис"
fi

need_root
[[ -f "$SRC/pyproject.toml" ]] || die "нет $SRC/pyproject.toml: запускайте скрипт из папки программы"
# shellcheck source=/dev/null
. /etc/os-release
if [[ ${VERSION_CODENAME:-} != bookworm ]]; then
    warn "скрипт проверен на Debian 12 (bookworm), а здесь ${PRETTY_NAME:-неизвестная система}"
fi

install_packages() {
    say "Системные пакеты (несколько минут)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # systemd and util-linux are there on any real machine; named for a bare root.
    apt-get install -y -q --no-install-recommends \
        python3 python3-venv sqlite3 curl ca-certificates systemd util-linux \
        avahi-daemon libnss-mdns \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
        age minisign
}

create_user_and_dirs() {
    say "Пользователь $APP_USER и каталог данных $DATA_DIR"
    if ! id -u "$APP_USER" >/dev/null 2>&1; then
        useradd --system --user-group --home-dir "$DATA_DIR" --shell /usr/sbin/nologin \
            --comment "EZh-box" "$APP_USER"
        note "создан системный пользователь $APP_USER"
    fi
    install -d -o "$APP_USER" -g "$APP_USER" -m 0750 "$DATA_DIR"
    # The stick is mounted here (archive-mount.sh); the empty folder is root's.
    install -d -m 0755 "$MEDIA"
    install -d -m 0755 "$TOOLS"
}

set_hostname() {
    [[ -n $NEW_HOSTNAME ]] || return 0
    local old
    old=$(cat /etc/hostname 2>/dev/null || hostname)
    if [[ $old == "$NEW_HOSTNAME" ]]; then
        return 0
    fi
    say "Имя компьютера: $NEW_HOSTNAME (было: $old)"
    if systemd_running && command -v hostnamectl >/dev/null; then
        hostnamectl set-hostname "$NEW_HOSTNAME"
    else
        printf '%s\n' "$NEW_HOSTNAME" >/etc/hostname
    fi
    # Debian names the machine itself on 127.0.1.1; sudo and avahi want it resolvable.
    [[ -f /etc/hosts ]] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost\n' >/etc/hosts
    if grep -q '^127\.0\.1\.1[[:space:]]' /etc/hosts; then
        sed -i "s/^127\.0\.1\.1[[:space:]].*/127.0.1.1\t$NEW_HOSTNAME/" /etc/hosts
    else
        printf '127.0.1.1\t%s\n' "$NEW_HOSTNAME" >>/etc/hosts
    fi
}

install_system_files() {
    say "Службы systemd, сторож, журнал, avahi, флешка архива"
    install -m 0644 "$HERE/ezh-web.service" /etc/systemd/system/ezh-web.service
    install -m 0644 "$HERE/ezh-worker.service" /etc/systemd/system/ezh-worker.service
    install -m 0644 "$HERE/ezh-watchdog.service" /etc/systemd/system/ezh-watchdog.service
    install -m 0644 "$HERE/ezh-watchdog.timer" /etc/systemd/system/ezh-watchdog.timer
    install -m 0644 "$HERE/ezh-archive-mount.service" \
        /etc/systemd/system/ezh-archive-mount.service
    install -m 0755 "$HERE/watchdog.sh" "$TOOLS/watchdog.sh"
    install -m 0755 "$HERE/archive-mount.sh" "$TOOLS/archive-mount.sh"
    install -m 0644 "$HERE/common.sh" "$TOOLS/common.sh"
    install -m 0755 "$HERE/uninstall.sh" "$TOOLS/uninstall.sh"
    install -d -m 0755 /etc/systemd/journald.conf.d
    install -m 0644 "$HERE/journald-ezh.conf" /etc/systemd/journald.conf.d/ezh.conf
    install -d -m 0755 /etc/avahi/services
    install -m 0644 "$HERE/ezh.avahi.service" /etc/avahi/services/ezh.service
    install -m 0755 "$HERE/ezh-wrapper.sh" /usr/local/bin/ezh
    sctl daemon-reload
    sctl enable ezh-web.service ezh-worker.service ezh-watchdog.timer \
        ezh-archive-mount.service avahi-daemon.service
    if systemd_running; then
        systemctl try-restart systemd-journald.service || true
        systemctl try-reload-or-restart avahi-daemon.service || true
        systemctl start ezh-watchdog.timer
    fi
}

# The archive's folder in ezh.toml, so the archive page and `ezh doctor` find the stick
# (backups find it through EZH_MEDIA in the units). Added once, never rewritten.
configure_archive_media() {
    local toml="$DATA_DIR/ezh.toml"
    if [[ -f $toml ]] && grep -q 'archive_media' "$toml"; then
        return 0
    fi
    if [[ -f $toml ]] && grep -q '^\[extra\]' "$toml"; then
        warn "в $toml уже есть раздел [extra]: добавьте в него строку archive_media = \"$MEDIA\""
        return 0
    fi
    printf '\n[extra]\n# флешка архива (метка %s), см. deploy/raspi/README.md\narchive_media = "%s"\n' \
        "$MEDIA_LABEL" "$MEDIA" >>"$toml"
    chown "$APP_USER:$APP_USER" "$toml"
    chmod 0640 "$toml"
}

fresh_install() {
    say "Программа: новое окружение Python в $VENVS (скачивание с PyPI, несколько минут)"
    local target
    target=$(build_venv "$SRC") || die "не удалось установить программу (pip); вывод выше"
    switch_venv "$target"
    note "$VENV -> $target"
    say "База данных"
    if [[ -f $DB ]]; then
        as_app "$VENV/bin/ezh" migrate --data "$DATA_DIR"
    else
        SETUP_TEXT="$(as_app "$VENV/bin/ezh" init --data "$DATA_DIR")"
        printf '%s\n' "$SETUP_TEXT"
    fi
    configure_archive_media
    sctl restart "${UNITS[@]}"
}

check_and_print() {
    if ! systemd_running; then
        say "Готово (без запуска служб: systemd здесь не работает)"
        note "после загрузки машины службы запустятся сами"
        return 0
    fi
    say "Проверка: ответ $HEALTH_URL"
    if ! wait_healthy 60; then
        journalctl -u ezh-web -n 30 --no-pager || true
        die "сервер не ответил на /healthz за минуту; журнал выше, подробнее: journalctl -u ezh-web"
    fi
    echo
    echo "ЭЖ-box работает. Адреса в школьной сети:"
    echo "    http://$(hostname).local/"
    for ip in $(hostname -I 2>/dev/null || true); do
        [[ $ip == *:* ]] && continue # IPv4 is what people can type
        echo "    http://$ip/"
    done
    if [[ $WITH_TLS == yes ]]; then
        echo "    https://$(hostname).local/  (после установки сертификата ЦС на устройства)"
    fi
    echo "Самопроверка: sudo ezh doctor --data $DATA_DIR"
}

SETUP_TEXT=""
started=$SECONDS
install_packages
create_user_and_dirs
set_hostname
install_system_files
if [[ -L $VENV || -d $VENV ]]; then
    say "Программа уже установлена: обновление через upgrade.sh"
    "$HERE/upgrade.sh"
    configure_archive_media
else
    fresh_install
fi
if [[ $WITH_TLS == yes ]]; then
    "$HERE/tls-setup.sh"
fi
check_and_print
if [[ -n $SETUP_TEXT ]]; then
    echo
    printf '%s\n' "$SETUP_TEXT"
    echo "Потеряли код? Новый выдаст: sudo ezh init --data $DATA_DIR"
fi
note "установка заняла $((SECONDS - started)) с"
