#!/usr/bin/env bash
# Remove ЭЖ-box from this machine:
#
#     sudo deploy/raspi/uninstall.sh            # the program goes, the school's data stays
#     sudo deploy/raspi/uninstall.sh --purge    # … and /var/lib/ezh and the user ezh too
#
# (install.sh also leaves a copy: sudo /usr/local/lib/ezh/uninstall.sh)
# System packages (python3, avahi-daemon …) stay: other programs may use them.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$HERE/common.sh"

PURGE=no
YES=no
for arg in "$@"; do
    case $arg in
        --purge) PURGE=yes ;;
        --yes) YES=yes ;;
        -h | --help)
            echo "Удаление ЭЖ-box: sudo $0 [--purge] [--yes]"
            echo "  --purge  удалить и данные школы ($DATA_DIR) и пользователя $APP_USER"
            echo "  --yes    не спрашивать подтверждения"
            exit 0
            ;;
        *) die "неизвестный ключ: $arg" ;;
    esac
done
need_root

if [[ $PURGE == yes && $YES != yes ]]; then
    echo "Будут удалены ВСЕ данные школы в $DATA_DIR: журнал, дневники, копии базы, ключи."
    echo "Сначала сделайте копию: sudo ezh backup --data $DATA_DIR"
    read -r -p "Введите УДАЛИТЬ, чтобы продолжить: " answer
    [[ $answer == "УДАЛИТЬ" ]] || die "отменено, ничего не удалено"
fi

say "Остановка и отключение служб"
units=(ezh-web.service ezh-worker.service ezh-watchdog.timer ezh-watchdog.service
    ezh-archive-mount.service ezh-tls-renew.timer ezh-tls-renew.service)
for unit in "${units[@]}"; do
    sctl stop "$unit" || true
    sctl disable "$unit" || true
done

say "Удаление программы и системных файлов"
for unit in "${units[@]}"; do
    rm -f "/etc/systemd/system/$unit"
done
rm -f /etc/systemd/journald.conf.d/ezh.conf /etc/avahi/services/ezh.service \
    /usr/local/bin/ezh /etc/nginx/sites-enabled/ezh-tls.conf /etc/nginx/sites-available/ezh-tls.conf
rm -rf "$VENV" "$VENV.new" "$VENVS" /etc/systemd/system/ezh-web.service.d
sctl daemon-reload
if systemd_running; then
    systemctl try-reload-or-restart avahi-daemon.service || true
    systemctl try-reload-or-restart nginx.service || true
fi
rmdir "$MEDIA" 2>/dev/null || true
rm -f "$INSTALL_CONF"

if [[ $PURGE == yes ]]; then
    say "Удаление данных школы $DATA_DIR и пользователя $APP_USER"
    rm -rf "$DATA_DIR" /etc/ezh
    if id -u "$APP_USER" >/dev/null 2>&1; then
        userdel "$APP_USER" || warn "пользователь $APP_USER не удалён"
    fi
else
    note "данные школы остались в $DATA_DIR (удалить: $0 --purge)"
fi
# Last: this script may itself be the copy in $TOOLS (bash has read it by now).
rm -rf "$TOOLS"
say "ЭЖ-box удалён"
