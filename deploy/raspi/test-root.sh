# shellcheck shell=bash
# Shared by test-in-chroot.sh, test-boot.sh and test-lan.sh (sourced, never run): a fresh
# Debian bookworm root from the debootstrap cache, the mounts and files a chroot install
# needs, the install itself, and booting the root under systemd-nspawn.
# Expects ROOT from the sourcing script; sets SRC (the checkout), CACHE (the debootstrap
# cache) and MIRROR (Debian's), the last two overridable by EZH_DEBOOTSTRAP_CACHE and
# EZH_DEBIAN_MIRROR.

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE=${EZH_DEBOOTSTRAP_CACHE:-/tmp/ezh-debootstrap-base}
MIRROR=${EZH_DEBIAN_MIRROR:-http://deb.debian.org/debian}

# A network whose HTTPS goes through an inspecting proxy has its CA in
# /usr/local/share/ca-certificates: the root gets it too (mount_root) and pip is told to
# use the system bundle (ca-certificates, installed by install.sh, adds the CA to it).
EXTRA_ENV=()
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    EXTRA_ENV=(PIP_CERT=/etc/ssl/certs/ca-certificates.crt)
fi

# Stop unless run as root with the programs named in the arguments.
need_root_and() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || {
            echo "нужен $tool (apt-get install -y debootstrap systemd-container iproute2)" >&2
            exit 1
        }
    done
    [[ $EUID -eq 0 ]] || {
        echo "запустите от root" >&2
        exit 1
    }
}

# ROOT becomes a copy of the cached minbase bookworm (debootstrapped once into CACHE).
fresh_root() {
    if [[ ! -x $CACHE/bin/bash ]]; then
        rm -rf "$CACHE"
        debootstrap --variant=minbase bookworm "$CACHE" "$MIRROR"
    fi
    rm -rf "$ROOT"
    cp -a "$CACHE" "$ROOT"
}

# /proc, /sys, /dev, the checkout read-only at /src, DNS, the CA of a proxy if one is in
# EXTRA_ENV, and Debian's way to keep packages from starting daemons while it is built.
mount_root() {
    mount -t proc proc "$ROOT/proc"
    mount -t sysfs sys "$ROOT/sys"
    mount --bind /dev "$ROOT/dev"
    mount --bind /dev/pts "$ROOT/dev/pts"
    mkdir -p "$ROOT/src"
    mount --bind "$SRC" "$ROOT/src"
    mount -o remount,bind,ro "$ROOT/src"
    cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
    if [[ ${#EXTRA_ENV[@]} -gt 0 ]]; then
        mkdir -p "$ROOT/usr/local/share/ca-certificates"
        cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
    fi
    printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
    chmod 0755 "$ROOT/usr/sbin/policy-rc.d"
}

# What mount_root mounted, unmounted (nothing mounted: nothing to do).
unmount_all() {
    local mnt
    for mnt in src dev/pts dev sys proc; do
        if mountpoint -q "$ROOT/$mnt"; then umount -l "$ROOT/$mnt" || true; fi
    done
}

# A command in the mounted ROOT (chroot), with a clean environment and EXTRA_ENV.
chroot_run() {
    env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
        LANG=C.UTF-8 "${EXTRA_ENV[@]}" chroot "$ROOT" "$@"
}

# ROOT becomes a fresh bookworm with ЭЖ-box installed by install.sh in a chroot, as an
# admin would on a machine being prepared (log: ROOT/root/install.log). Arguments, if
# any: a command run in the chroot afterwards, while /src is still there.
make_root() {
    unmount_all
    fresh_root
    mount_root
    chroot_run env EZH_NO_SYSTEMD=1 /src/deploy/raspi/install.sh >"$ROOT/root/install.log" 2>&1 || {
        tail -n 30 "$ROOT/root/install.log"
        exit 1
    }
    [[ $# -eq 0 ]] || chroot_run "$@"
    rm -f "$ROOT/usr/sbin/policy-rc.d"
    unmount_all
}

# Boot ROOT with systemd as PID 1 (systemd-nspawn, not registered with machined). $1 and
# $2 name the variables that get nspawn's PID (set at once, so a cleanup can stop it even
# if the boot fails) and the container's PID 1 (for `enter`); the console goes to the
# file $3; the other arguments are nspawn's (network, binds, machine name).
boot_root() {
    local -n booted_pid=$1 booted_leader=$2
    local log=$3
    shift 3
    systemd-nspawn -q --register=no --keep-unit -D "$ROOT" --boot "$@" >"$log" 2>&1 &
    booted_pid=$!
    booted_leader=""
    # nspawn's first child may be a short-lived helper: wait for systemd itself.
    for _ in $(seq 1 30); do
        booted_leader=$(pgrep -P "$booted_pid" -x systemd | head -1 || true)
        [[ -n $booted_leader ]] && return 0
        kill -0 "$booted_pid" 2>/dev/null || break
        sleep 1
    done
    echo "контейнер $ROOT не запустился:" >&2
    tail -n 30 "$log" >&2
    return 1
}

# A command inside the booted container whose PID 1 is $1 (all its namespaces).
enter() {
    local leader=$1
    shift
    nsenter -t "$leader" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"
}

# Stop the container of the nspawn process $1 ("" or gone: nothing to do): SIGTERM makes
# nspawn ask the container's systemd to shut down cleanly; killed after 30 s.
stop_container() {
    local pid=$1
    if [[ -z $pid ]] || ! kill -0 "$pid" 2>/dev/null; then
        return 0
    fi
    kill "$pid" || true
    for _ in $(seq 1 30); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 1
    done
    kill -9 "$pid" 2>/dev/null || true
}
