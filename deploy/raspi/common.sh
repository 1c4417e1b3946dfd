# shellcheck shell=bash disable=SC2034  # the names are used by the scripts that source this
# Shared by install.sh, upgrade.sh and uninstall.sh (sourced, never run): the paths of
# an installed box and the few steps the three scripts have in common.

APP_USER=ezh
DATA_DIR=/var/lib/ezh
DB="$DATA_DIR/ezh.sqlite3"
BACKUPS="$DATA_DIR/backups"
# /opt/ezh is a symlink to the current virtualenv in $VENVS: an upgrade builds the new
# one beside it and only then switches the link, so a rollback is switching it back
# (a virtualenv cannot be moved: its scripts name their own path).
VENV=/opt/ezh
VENVS=/opt/ezh-venvs
TOOLS=/usr/local/lib/ezh
MEDIA=/media/ezh-archive
MEDIA_LABEL=EZH-ARCHIVE
PORT=80
UNITS=(ezh-web.service ezh-worker.service)
HEALTH_URL="http://127.0.0.1:$PORT/healthz"
# Held by upgrade.sh while it works: the watchdog then leaves stopped units alone.
UPGRADE_LOCK=/run/ezh-upgrade.lock
# The choices of install.sh (host name, time zone), reused by its later runs.
INSTALL_CONF=/etc/ezh/install.conf
# The system files install.sh and upgrade.sh put in place: "source mode target".
SYSTEM_FILES=(
    "ezh-web.service 0644 /etc/systemd/system/ezh-web.service"
    "ezh-worker.service 0644 /etc/systemd/system/ezh-worker.service"
    "ezh-watchdog.service 0644 /etc/systemd/system/ezh-watchdog.service"
    "ezh-watchdog.timer 0644 /etc/systemd/system/ezh-watchdog.timer"
    "ezh-archive-mount.service 0644 /etc/systemd/system/ezh-archive-mount.service"
    "ezh-tls-renew.service 0644 /etc/systemd/system/ezh-tls-renew.service"
    "ezh-tls-renew.timer 0644 /etc/systemd/system/ezh-tls-renew.timer"
    "watchdog.sh 0755 /usr/local/lib/ezh/watchdog.sh"
    "archive-mount.sh 0755 /usr/local/lib/ezh/archive-mount.sh"
    "common.sh 0644 /usr/local/lib/ezh/common.sh"
    "uninstall.sh 0755 /usr/local/lib/ezh/uninstall.sh"
    "make-cert.sh 0755 /usr/local/lib/ezh/make-cert.sh"
    "tls-setup.sh 0755 /usr/local/lib/ezh/tls-setup.sh"
    "nginx-ezh-tls.conf 0644 /usr/local/lib/ezh/nginx-ezh-tls.conf"
    "journald-ezh.conf 0644 /etc/systemd/journald.conf.d/ezh.conf"
    "ezh.avahi.service 0644 /etc/avahi/services/ezh.service"
    "ezh-wrapper.sh 0755 /usr/local/bin/ezh"
)

say() { printf '\n==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
warn() { printf 'ВНИМАНИЕ: %s\n' "$*" >&2; }
die() {
    printf 'ОШИБКА: %s\n' "$*" >&2
    exit 1
}
# As the service's user, with the service's umask (files for ezh alone, like UMask=0027).
# No subshell: an ERR trap (upgrade.sh's rollback) must run once, in the script itself.
as_app() { runuser -u "$APP_USER" -- sh -c 'umask 0027 && exec "$@"' as_app "$@"; }

need_root() {
    [[ $EUID -eq 0 ]] || die "запустите от root: sudo $0"
}

# Is systemd running this machine? Not in a chroot, a container build or an image
# being prepared: there units are only installed and enabled, never started.
systemd_running() {
    [[ -d /run/systemd/system ]] && [[ ${EZH_NO_SYSTEMD:-0} != 1 ]]
}

# `systemctl` on a live system; on an offline root only what works without systemd
# (enable/disable: symlinks; daemon-reload, start, stop: skipped).
sctl() {
    if systemd_running; then
        systemctl "$@"
        # Explicit: a bare `return` in upgrade.sh's rollback (an ERR trap) would return
        # the status of the command that fired the trap, not systemctl's.
        return $?
    fi
    case $1 in
        enable | disable) systemctl "$@" 2>/dev/null || systemctl --root=/ "$@" ;;
        *) note "(systemd не запущен: пропускаю «systemctl $*»)" ;;
    esac
}

# Put the system files from the folder $1 in place (units, watchdog, stick mount, wrapper,
# journald and avahi settings). With $2, the files they replace are first copied there
# (restore_system_files puts them back: upgrade.sh's rollback). Shared by install.sh and
# upgrade.sh so an upgrade brings the new version's units too.
install_system_files() {
    local from=$1 save=${2:-} entry name mode target
    [[ -z $save ]] || install -d -m 0700 "$save"
    for entry in "${SYSTEM_FILES[@]}"; do
        read -r name mode target <<<"$entry"
        if [[ -n $save && -f $target ]]; then
            cp -p "$target" "$save/$name"
        fi
        install -d -m 0755 "$(dirname "$target")"
        install -m "$mode" "$from/$name" "$target"
    done
    sctl daemon-reload
}

# Undo install_system_files "$from" "$1": the saved files back, the new ones removed.
restore_system_files() {
    local save=$1 entry name mode target
    for entry in "${SYSTEM_FILES[@]}"; do
        read -r name mode target <<<"$entry"
        if [[ -f $save/$name ]]; then
            install -m "$mode" "$save/$name" "$target"
        else
            rm -f "$target"
        fi || return 1
    done
    sctl daemon-reload
}

# Build a fresh virtualenv in $VENVS and install the checkout $1 into it (wheels from
# PyPI). Prints the new virtualenv's path on stdout; everything else goes to stderr.
build_venv() {
    local src=$1 target
    target="$VENVS/$(date +%Y%m%d-%H%M%S)"
    while [[ -e $target ]]; do target="$target-1"; done
    install -d -m 0755 "$VENVS"
    # One && chain: under `||` bash ignores set -e, so each step must stop the next.
    if ! {
        python3 -m venv "$target" &&
            "$target/bin/pip" install --quiet --disable-pip-version-check --no-cache-dir \
                --upgrade pip &&
            "$target/bin/pip" install --quiet --disable-pip-version-check --no-cache-dir \
                "$src" &&
            "$target/bin/ezh" --version >/dev/null &&
            install -m 0644 "$src/deploy/raspi/README.md" "$target/README-raspi.md"
    } >&2; then
        rm -rf "$target"
        return 1
    fi
    printf '%s\n' "$target"
}

# Point /opt/ezh at the virtualenv $1 (atomically: rename over the old link).
switch_venv() {
    ln -sfn "$1" "$VENV.new"
    mv -Tf "$VENV.new" "$VENV"
}

# Keep the current and the previous virtualenv, remove older ones.
prune_venvs() {
    local current previous
    current=$(readlink -f "$VENV")
    previous=${1:-}
    find "$VENVS" -mindepth 1 -maxdepth 1 -type d | while read -r dir; do
        [[ $dir == "$current" || $dir == "$previous" ]] && continue
        rm -rf "$dir"
    done
}

# Wait up to $1 seconds (default 60) for /healthz to answer 200.
wait_healthy() {
    local seconds=${1:-60}
    for _ in $(seq 1 "$seconds"); do
        if curl -fsS -o /dev/null --max-time 3 "$HEALTH_URL" 2>/dev/null; then
            return 0
        fi
        sleep 1
    done
    return 1
}

# A consistent copy of the database (sqlite's online backup), owned by the service.
copy_database() {
    local target=$1
    install -d -o "$APP_USER" -g "$APP_USER" -m 0700 "$BACKUPS"
    as_app sqlite3 "$DB" ".backup '$target'"
    chmod 0600 "$target"
}
