#!/usr/bin/env bash
# Install ЭЖ-box on Debian 12 (bookworm) / Raspberry Pi OS (Bookworm), arm64 or amd64.
# Run as root from the program's folder (a checkout):
#
#     sudo deploy/raspi/install.sh [--tls] [--hostname NAME | --keep-hostname] [--timezone ZONE]
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

  --hostname ИМЯ    имя коробки в сети (по умолчанию ezh: адрес http://ezh.local/);
                    при повторном запуске без ключа имя не меняется
  --keep-hostname   не менять имя компьютера
  --timezone ЗОНА   часовой пояс (по умолчанию Europe/Samara; уже заданный не-UTC пояс
                    при повторном запуске сохраняется)
  --tls             дополнительно включить HTTPS (nginx-light, свой центр сертификации,
                    см. docs/tls.md); обычный HTTP остаётся
  -h, --help        эта справка
EOF
}

NEW_HOSTNAME=ezh
HOSTNAME_GIVEN=no
TIMEZONE=""
WITH_TLS=no
while [[ $# -gt 0 ]]; do
    case $1 in
        --hostname)
            [[ $# -ge 2 ]] || die "после --hostname укажите имя"
            NEW_HOSTNAME=$2
            HOSTNAME_GIVEN=yes
            shift
            ;;
        --keep-hostname)
            NEW_HOSTNAME=""
            HOSTNAME_GIVEN=yes
            ;;
        --timezone)
            [[ $# -ge 2 ]] || die "после --timezone укажите пояс, например Europe/Samara"
            TIMEZONE=$2
            shift
            ;;
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

if [[ -n $TIMEZONE && ! $TIMEZONE =~ ^[A-Za-z0-9_+/-]+$ ]]; then
    die "пояс «$TIMEZONE» не подходит: пишите как Europe/Samara"
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
    # The clock comes from the network (no battery on a Pi): systemd-timesyncd, unless
    # another time service is there (installing timesyncd would remove it).
    local clock=(systemd-timesyncd) daemon
    for daemon in chrony ntp ntpsec openntpd; do
        dpkg -s "$daemon" >/dev/null 2>&1 && clock=()
    done
    # systemd and util-linux are there on any real machine; named for a bare root.
    # dosfstools/exfatprogs: the README formats the archive stick with mkfs.vfat.
    apt-get install -y -q --no-install-recommends \
        python3 python3-venv sqlite3 curl ca-certificates systemd util-linux \
        "${clock[@]}" tzdata dosfstools exfatprogs openssl \
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
    # Readable by all (the install choices); the secrets inside (tls/*.key) are 0600.
    install -d -m 0755 /etc/ezh
}

# A value from install.conf ("" when there is none).
conf_value() {
    [[ -f $INSTALL_CONF ]] || return 0
    sed -n "s/^$1=//p" "$INSTALL_CONF" | tail -n 1
}

remember_choices() {
    install -d -m 0755 /etc/ezh
    {
        echo "# Выбор install.sh; повторный запуск берёт его отсюда."
        echo "HOSTNAME=$(cat /etc/hostname 2>/dev/null || hostname)"
        echo "TIMEZONE=$(current_zone)"
    } >"$INSTALL_CONF"
    chmod 0644 "$INSTALL_CONF"
}

# The system's time zone ("" when unknown), e.g. Europe/Samara.
current_zone() {
    local link
    link=$(readlink /etc/localtime 2>/dev/null || true)
    if [[ $link == */zoneinfo/* ]]; then
        printf '%s\n' "${link#*/zoneinfo/}"
    elif [[ -f /etc/timezone ]]; then
        head -n 1 /etc/timezone
    fi
}

# The school's zone (School.timezone defaults to Europe/Samara): dates of lessons and
# the nightly jobs follow it. A zone chosen before (not UTC) is kept on a re-run.
set_timezone() {
    local zone=$TIMEZONE old
    old=$(current_zone)
    if [[ -z $zone ]]; then
        case $old in
            "" | UTC | Etc/* | Universal | Zulu) zone=$(conf_value TIMEZONE) ;;
            *) zone=$old ;;
        esac
        [[ -n $zone ]] || zone=Europe/Samara
    fi
    [[ -f /usr/share/zoneinfo/$zone ]] || die "часового пояса «$zone» нет (см. timedatectl list-timezones)"
    if [[ $zone != "$old" ]]; then
        say "Часовой пояс: $zone (был: ${old:-не задан})"
        if systemd_running && command -v timedatectl >/dev/null; then
            timedatectl set-timezone "$zone"
        else
            ln -sfn "/usr/share/zoneinfo/$zone" /etc/localtime
            printf '%s\n' "$zone" >/etc/timezone
        fi
    fi
    # The Pi has no battery clock: the time comes from the network (README: the router).
    [[ -f /lib/systemd/system/systemd-timesyncd.service ]] || return 0
    sctl enable systemd-timesyncd.service
    if systemd_running; then
        systemctl start systemd-timesyncd.service || warn "служба времени systemd-timesyncd не запустилась"
        timedatectl set-ntp true 2>/dev/null || true
    fi
}

set_hostname() {
    # A re-run keeps the name (the school may have renamed the box): only a fresh install
    # or an explicit --hostname renames it.
    if [[ $HOSTNAME_GIVEN == no ]] && [[ -f $INSTALL_CONF || -L $VENV || -d $VENV ]]; then
        return 0
    fi
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
    # avahi reads the name at start only: a reload would keep announcing the old one.
    if systemd_running; then
        systemctl restart avahi-daemon.service || true
    fi
}

put_system_files() {
    say "Службы systemd, сторож, журнал, avahi, флешка архива"
    install_system_files "$HERE"
    sctl enable ezh-web.service ezh-worker.service ezh-watchdog.timer \
        ezh-archive-mount.service ezh-tls-renew.timer avahi-daemon.service
    if systemd_running; then
        systemctl try-restart systemd-journald.service || true
        systemctl try-reload-or-restart avahi-daemon.service || true
        systemctl start ezh-watchdog.timer ezh-tls-renew.timer
        # A stick plugged in before the install: its device event has passed already.
        if [[ -e /dev/disk/by-label/$MEDIA_LABEL ]]; then
            systemctl start ezh-archive-mount.service || warn "флешку $MEDIA_LABEL смонтировать не удалось"
        fi
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
    echo "Часовой пояс: $(current_zone); время из сети: укажите в роутере школы NTP (README)"
}

SETUP_TEXT=""
started=$SECONDS
install_packages
create_user_and_dirs
set_timezone
set_hostname
if [[ -L $VENV || -d $VENV ]]; then
    # upgrade.sh puts the new system files in place itself (and back on a rollback).
    say "Программа уже установлена: обновление через upgrade.sh"
    "$HERE/upgrade.sh"
    put_system_files
    configure_archive_media
else
    put_system_files
    fresh_install
fi
if [[ $WITH_TLS == yes ]]; then
    "$HERE/tls-setup.sh"
fi
remember_choices
check_and_print
if [[ -n $SETUP_TEXT ]]; then
    echo
    printf '%s\n' "$SETUP_TEXT"
    echo "Потеряли код? Новый выдаст: sudo ezh init --data $DATA_DIR"
fi
note "установка заняла $((SECONDS - started)) с"
