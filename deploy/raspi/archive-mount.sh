#!/usr/bin/env bash
# Mount / unmount the archive stick (label EZH-ARCHIVE) at /media/ezh-archive so the
# user ezh can write it. Run by ezh-archive-mount.service; by hand:
#     sudo /usr/local/lib/ezh/archive-mount.sh mount|umount
# FAT32, exFAT and NTFS (the kernel's ntfs3 driver) have no owners: the owner is given
# as mount options. ext2/3/4 keep owners: the stick's top folder is handed to ezh.
# Other file systems are refused (nothing else is tested).
set -euo pipefail

LABEL=${EZH_MEDIA_LABEL:-EZH-ARCHIVE}
WHERE=${EZH_MEDIA:-/media/ezh-archive}
DEVICE=/dev/disk/by-label/$LABEL
USER_NAME=ezh

mount_stick() {
    local fstype uid gid options=nosuid,nodev,noexec,noatime
    if mountpoint -q "$WHERE"; then
        echo "флешка уже смонтирована в $WHERE"
        return 0
    fi
    [[ -e $DEVICE ]] || {
        echo "флешки с меткой $LABEL нет" >&2
        return 1
    }
    fstype=$(blkid -o value -s TYPE "$DEVICE")
    uid=$(id -u "$USER_NAME")
    gid=$(id -g "$USER_NAME")
    mkdir -p "$WHERE"
    case $fstype in
        vfat | exfat | ntfs | ntfs3)
            # blkid says "ntfs"; the driver in the kernel is ntfs3 (ntfs is read-only/fuse).
            [[ $fstype == ntfs ]] && fstype=ntfs3
            # flush: FAT writes reach the stick soon, for sticks pulled out without warning
            [[ $fstype == vfat ]] && options+=,flush
            mount -t "$fstype" -o "$options,uid=$uid,gid=$gid,umask=0027" "$DEVICE" "$WHERE"
            ;;
        ext2 | ext3 | ext4)
            mount -t "$fstype" -o "$options" "$DEVICE" "$WHERE"
            chown "$uid:$gid" "$WHERE"
            chmod 0750 "$WHERE"
            ;;
        *)
            echo "файловая система «${fstype:-неизвестна}» не подходит: FAT32, exFAT, NTFS или ext4" >&2
            return 1
            ;;
    esac
    echo "флешка $LABEL ($fstype) смонтирована в $WHERE"
}

umount_stick() {
    if mountpoint -q "$WHERE"; then
        # -l: a pulled-out stick is gone already; do not hang on it.
        umount -l "$WHERE"
        echo "флешка $LABEL отключена от $WHERE"
    fi
}

case ${1:-} in
    mount) mount_stick ;;
    umount) umount_stick ;;
    *)
        echo "использование: $0 mount|umount" >&2
        exit 2
        ;;
esac
