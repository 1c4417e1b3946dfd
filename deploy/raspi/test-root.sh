# shellcheck shell=bash
# Shared by test-in-chroot.sh and test-boot.sh (sourced, never run): a fresh Debian bookworm root
# from the debootstrap cache, and the mounts and files a chroot install needs.
# Expects ROOT, CACHE, MIRROR, SRC and the array EXTRA_ENV from the sourcing script.

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
