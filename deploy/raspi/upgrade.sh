#!/usr/bin/env bash
# Update an installed ЭЖ-box to the version in this checkout:
#
#     cd /путь/к/новой/версии && sudo deploy/raspi/upgrade.sh
#
# 1. builds the new version in a new virtualenv while the old one keeps serving;
# 2. stops the services, backs the database up (`ezh backup` when the archive keys
#    exist, and always a plain sqlite copy the rollback uses);
# 3. switches /opt/ezh to the new virtualenv, runs `ezh migrate`, starts the services
#    and waits for /healthz;
# 4. on any failure in 3 (or Ctrl+C, kill, a dropped SSH session): keeps the database
#    the new version wrote aside (backups/failed-upgrade-*), puts the old virtualenv, the
#    old system files and the database copy back and starts the old version again.
# Over SSH run it inside tmux (README). While it works it holds $UPGRADE_LOCK, so the
# watchdog does not start the stopped services behind its back.
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC="$(cd "$HERE/../.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$HERE/common.sh"

need_root
[[ -f "$SRC/pyproject.toml" ]] || die "нет $SRC/pyproject.toml: запускайте скрипт из папки новой версии"
[[ -L $VENV || -d $VENV ]] || die "ЭЖ-box не установлен ($VENV нет): сначала deploy/raspi/install.sh"

OLD_TARGET=""
NEW_TARGET=""
DB_COPY=""
COPY_TIME=""
SWITCHED=no
SYSTEM_SAVED=""

exec 9>"$UPGRADE_LOCK"
flock -n 9 || die "уже идёт другое обновление ($UPGRADE_LOCK)"

# A virtualenv made by the first install.sh lived in /opt/ezh itself: move it among the
# others so the link can take its place (its scripts then fail, which a rollback undoes
# by moving it back).
LEGACY=""
if [[ -d $VENV && ! -L $VENV ]]; then
    LEGACY="$VENVS/legacy-$(date +%Y%m%d-%H%M%S)"
fi

# Start the web server, and the worker only once /healthz answers (a broken version must
# not run jobs on the data).
start_services() {
    sctl start ezh-web.service || {
        warn "ezh-web не запустился (код $?)"
        return 1
    }
    if systemd_running; then
        say "Проверка: ответ $HEALTH_URL"
        wait_healthy 60 || {
            warn "/healthz не ответил за минуту"
            journalctl -u ezh-web -n 30 --no-pager || true
            return 1
        }
    fi
    sctl start ezh-worker.service || {
        warn "ezh-worker не запустился (код $?)"
        return 1
    }
}

# Running jobs (an archive, a print run): wait for them up to 10 minutes.
wait_for_jobs() {
    local waited=0 running limit=${EZH_UPGRADE_JOB_WAIT:-600}
    systemd_running && systemctl is-active --quiet ezh-worker.service && [[ -f $DB ]] || return 0
    while :; do
        running=$(as_app sqlite3 -readonly "$DB" \
            "SELECT count(*) FROM job WHERE state = 'running'" 2>/dev/null || echo 0)
        [[ ${running:-0} == 0 ]] && return 0
        if [[ $waited -ge $limit ]]; then
            warn "задание всё ещё выполняется; останавливаю: оно будет запущено снова после обновления"
            return 0
        fi
        [[ $waited -gt 0 ]] || note "выполняется фоновое задание (архив, печать): жду его окончания"
        sleep 10
        waited=$((waited + 10))
    done
}

rollback() {
    trap - ERR
    # A handler, not '' : an ignored signal would be inherited by systemctl and curl.
    trap 'warn "идёт откат, подождите"' INT TERM HUP
    [[ -z ${ROLLING_BACK:-} ]] || return 0
    ROLLING_BACK=1
    warn "обновление не удалось, возвращаю прежнюю версию"
    sctl stop "${UNITS[@]}" || true
    if [[ $SWITCHED == yes ]]; then
        if [[ -n $LEGACY ]]; then
            rm -f "$VENV"
            mv -T "$LEGACY" "$VENV"
        else
            switch_venv "$OLD_TARGET"
        fi
        note "программа: снова $OLD_TARGET"
    fi
    rm -rf "$NEW_TARGET"
    if [[ -n $SYSTEM_SAVED && -d $SYSTEM_SAVED ]]; then
        if restore_system_files "$SYSTEM_SAVED" 2>&1; then
            rm -rf "$SYSTEM_SAVED"
            note "системные файлы: прежние"
        else
            warn "прежние системные файлы вернуть не удалось; они в $SYSTEM_SAVED"
        fi
    fi
    local aside=""
    if [[ -n $DB_COPY && -f $DB_COPY ]]; then
        # What the new version wrote is kept, not lost: teachers may have marked meanwhile.
        aside="$BACKUPS/failed-upgrade-$(date +%Y%m%d-%H%M%S)"
        for part in "" -wal -shm; do
            [[ -f $DB$part ]] && mv "$DB$part" "$aside.sqlite3$part"
        done
        install -o "$APP_USER" -g "$APP_USER" -m 0640 "$DB_COPY" "$DB"
        note "база: возвращена копия $DB_COPY"
        note "изменения после $COPY_TIME отложены в $aside.sqlite3 (их можно перенести вручную)"
    fi
    if ! start_services; then
        die "и прежняя версия не отвечает: journalctl -u ezh-web -n 50; база сохранена в $DB_COPY"
    fi
    die "обновление отменено, работает прежняя версия; причина — в выводе выше"
}

started=$SECONDS
OLD_TARGET=$(readlink -f "$VENV")
say "Новая версия: окружение Python (скачивание с PyPI, несколько минут; служба пока работает)"
NEW_TARGET=$(build_venv "$SRC") || die "не удалось установить новую версию (pip); ничего не изменено"
note "собрано: $NEW_TARGET ($("$NEW_TARGET/bin/ezh" --version))"

# From here on any failure or interruption puts the old version back (and starts it).
trap rollback ERR
trap 'warn "обновление прервано"; rollback' INT TERM HUP
wait_for_jobs
say "Остановка служб и резервная копия базы"
sctl stop "${UNITS[@]}"
if [[ -f $DB ]]; then
    if [[ -d $DATA_DIR/keys ]]; then
        # The encrypted backup (on the box and, when plugged in, on the stick).
        if ! as_app env EZH_MEDIA="$MEDIA" "$OLD_TARGET/bin/ezh" backup --data "$DATA_DIR"; then
            warn "ezh backup не сработал; продолжаю с простой копией базы"
        fi
    else
        note "ключей архива нет: только простая копия базы (ключи: sudo ezh keys --help)"
    fi
    copy="$BACKUPS/before-upgrade-$(date +%Y%m%d-%H%M%S).sqlite3"
    copy_database "$copy"
    DB_COPY=$copy # only a finished copy is ever put back
    COPY_TIME=$(date '+%H:%M %d.%m.%Y')
    note "копия базы: $DB_COPY"
    # Keep the three newest plain copies.
    find "$BACKUPS" -maxdepth 1 -name 'before-upgrade-*.sqlite3' -printf '%T@ %p\n' |
        sort -rn | tail -n +4 | cut -d' ' -f2- | xargs -r rm -f --
fi

say "Системные файлы новой версии (службы, сторож, обёртка ezh)"
SYSTEM_SAVED="/var/tmp/ezh-system-before-$(date +%Y%m%d-%H%M%S)"
install_system_files "$HERE" "$SYSTEM_SAVED"

say "Переключение на новую версию и миграция базы"
if [[ -n $LEGACY ]]; then
    install -d -m 0755 "$VENVS"
    mv -T "$VENV" "$LEGACY"
    OLD_TARGET=$LEGACY
fi
SWITCHED=yes
switch_venv "$NEW_TARGET"
if [[ -f $DB ]]; then
    as_app "$VENV/bin/ezh" migrate --data "$DATA_DIR"
fi
# For test-in-chroot.sh: a failure after the switch, to prove the rollback.
if [[ ${EZH_TEST_BREAK_UPGRADE:-0} == 1 ]]; then
    warn "EZH_TEST_BREAK_UPGRADE=1: обновление намеренно прерывается (проверка отката)"
    false
fi
start_services
trap - ERR INT TERM HUP

rm -rf "$SYSTEM_SAVED"
prune_venvs "$OLD_TARGET"
say "Обновлено до $("$VENV/bin/ezh" --version) за $((SECONDS - started)) с"
note "прежняя версия сохранена в $OLD_TARGET (для отката вручную)"
