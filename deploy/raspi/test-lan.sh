#!/usr/bin/env bash
# Two machines on one school LAN, both on this computer: the installed ЭЖ-box and a
# teacher's computer, each a Debian 12 root booted with systemd as PID 1 (systemd-nspawn),
# joined by a bridge that has no address on the host (no NAT, no route: nothing leaves
# the machine). Proves from the teacher's computer, the way a Debian desktop resolves
# names (nss-mdns: mdns4_minimal in /etc/nsswitch.conf, no /etc/hosts entry), that the
# box answers at http://ezh.local/ (the name, /healthz, the first page in Russian, the
# "ЭЖ-box (ezh)" announcement on port 80), and that after a power-off and a fresh boot it
# answers there again with nobody touching it. Prints the seconds from boot to answering.
#
#     sudo deploy/raspi/test-lan.sh [ROOT]      (default /tmp/ezh-lan-root; the teacher's
#                                                computer in ROOT-pc)
#
# EZH_BOOT_REUSE=1 reuses an installed ROOT (and ROOT-pc) from an earlier run.
#
# Addresses come by DHCP, as on a school LAN: the teacher's computer stands in for the
# school's router (static 10.77.0.1/24 and systemd-networkd's DHCP server, no gateway
# handed out); the box takes its lease with systemd-networkd's stock container profile
# (80-container-host0.network, DHCP=yes), standing in for the network setup of the OS
# (NetworkManager on Raspberry Pi OS, ifupdown on Debian), which install.sh leaves alone.
# The box's name is its own: nspawn's machine name is "ezh-lan-box", and the box's
# systemd sets the host name from /etc/hostname, which install.sh wrote (ezh) — as on a
# Pi. Needs debootstrap, systemd-container (nspawn, nsenter), iproute2 and perl.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT=${1:-/tmp/ezh-lan-root}
PC_ROOT=$ROOT-pc
# shellcheck source-path=SCRIPTDIR source=test-root.sh
. "$HERE/test-root.sh"
BRIDGE=${EZH_LAN_BRIDGE:-ezhlan0}
ROUTER_IP=10.77.0.1
BOX_NAME=ezh-lan-box # nspawn's machine name, on purpose not the box's host name
# What the teacher's computer has beyond the minimal Debian: a desktop's name resolution.
PC_PACKAGES=(avahi-daemon avahi-utils libnss-mdns curl systemd-sysv dbus)
BOX_PID="" BOX="" PC_PID="" PC="" BRIDGE_MADE=no

need_root_and debootstrap systemd-nspawn nsenter ip perl

cleanup() {
    stop_container "$BOX_PID"
    stop_container "$PC_PID"
    unmount_all
    ROOT=$PC_ROOT unmount_all
    if [[ $BRIDGE_MADE == yes ]]; then ip link del "$BRIDGE" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

box() { enter "$BOX" "$@"; }
pc() { enter "$PC" "$@"; }
now() { printf '%s\n' "$EPOCHREALTIME"; }
# Seconds since the time $1 (from now), one decimal.
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
fail() {
    echo "ОШИБКА: $*" >&2
    if [[ -n $BOX ]]; then
        box journalctl --no-pager -n 25 -u ezh-web -u avahi-daemon -u systemd-networkd >&2 || true
    fi
    exit 1
}

# The teacher's computer: the same minimal bookworm, its desktop packages (apt in a
# chroot, before it boots), its own machine id and name, and the router's DHCP server.
make_pc_root() {
    local ROOT=$PC_ROOT
    unmount_all
    fresh_root
    mount_root
    chroot_run env DEBIAN_FRONTEND=noninteractive sh -c \
        'apt-get update -q && apt-get install -y -q --no-install-recommends "$@"' \
        apt "${PC_PACKAGES[@]}" >"$ROOT/root/apt.log" 2>&1 || {
        tail -n 30 "$ROOT/root/apt.log"
        exit 1
    }
    rm -f "$ROOT/usr/sbin/policy-rc.d"
    unmount_all
    systemd-id128 new >"$ROOT/etc/machine-id"
    echo teacher-pc >"$ROOT/etc/hostname"
    cat >"$ROOT/etc/systemd/network/10-school-lan.network" <<EOF
# The school's router: a fixed address and DHCP for the LAN, no gateway, no DNS.
[Match]
Name=host0

[Network]
Address=$ROUTER_IP/24
DHCPServer=yes
LinkLocalAddressing=no

[DHCPServer]
PoolOffset=100
PoolSize=50
EmitRouter=no
EmitDNS=no
EOF
    systemctl --root="$ROOT" enable systemd-networkd.service >/dev/null 2>&1
}

# The LAN: a bridge with no address of the host's, not even an IPv6 link-local one.
lan_up() {
    if [[ -e /sys/class/net/$BRIDGE ]]; then
        if compgen -G "/sys/class/net/$BRIDGE/brif/*" >/dev/null; then
            echo "мост $BRIDGE занят (идёт другой запуск?)" >&2
            exit 1
        fi
        ip link del "$BRIDGE"
    fi
    ip link add "$BRIDGE" type bridge
    BRIDGE_MADE=yes
    ip link set "$BRIDGE" addrgenmode none
    ip link set "$BRIDGE" up
}

# The box's IPv4 address on the LAN ("" before its lease), read with the host's `ip` in
# the box's network namespace (a minimal Debian has no iproute2).
box_ip() {
    nsenter -t "$BOX" -n ip -4 -o addr show dev host0 2>/dev/null |
        awk 'NR == 1 { split($4, a, "/"); print a[1] }'
}

# Boot the box and wait (up to 180 s) until the teacher's computer resolves ezh.local and
# gets "ok":true from http://ezh.local/healthz. Sets RESOLVE_S and ANSWER_S (seconds
# from the start of the boot).
boot_box_and_wait() {
    local start resolved="" answer="" deadline=$((SECONDS + 180))
    start=$(now)
    boot_root BOX_PID BOX "/tmp/ezh-lan-box-console.log" \
        --network-bridge="$BRIDGE" --machine="$BOX_NAME"
    while ((SECONDS < deadline)); do
        if [[ -z $resolved ]] && pc getent hosts ezh.local >/dev/null; then
            resolved=$(since "$start")
        fi
        if [[ -n $resolved ]]; then
            answer=$(pc curl -fsS --max-time 3 http://ezh.local/healthz 2>/dev/null || true)
            [[ $answer == *'"ok":true'* ]] && break
        fi
        sleep 0.5
    done
    [[ $answer == *'"ok":true'* ]] || fail "http://ezh.local/healthz не ответил за 180 с (имя: ${resolved:-не найдено})"
    ANSWER_S=$(since "$start")
    RESOLVE_S=$resolved
    echo "ezh.local найден через $RESOLVE_S с, /healthz ответил через $ANSWER_S с после включения"
}

# What the teacher's computer sees at ezh.local: the box's address, its health, its
# first page in Russian, its announcement on port 80. The box's own side: its name.
check_box_from_pc() {
    local ip got page code url services="" line
    ip=$(box_ip)
    got=$(pc getent hosts ezh.local | awk 'NR == 1 { print $1 }')
    echo "getent hosts ezh.local: $got (адрес коробки: ${ip:-нет})"
    [[ -n $ip && $got == "$ip" ]] || fail "ezh.local указывает не на коробку"
    [[ $(box cat /proc/sys/kernel/hostname) == ezh ]] || fail "имя коробки не ezh (машина nspawn: $BOX_NAME)"
    [[ -z $(nsenter -t "$BOX" -n ip route show default) ]] || fail "у коробки есть шлюз наружу"

    page=$(pc curl -sS -L --max-time 10 -w '\n%{http_code} %{url_effective}' http://ezh.local/)
    read -r code url <<<"$(tail -n 1 <<<"$page")"
    echo "http://ezh.local/ -> $code $url: $(grep -m 1 -o '<title>[^<]*' <<<"$page")"
    [[ $code == 200 && $url =~ ^http://ezh\.local/(login|setup/) ]] || fail "первая страница: $code $url"
    grep -q '<html lang="ru"' <<<"$page" || fail "первая страница не на русском"
    grep -Eq '<title>(Вход|Настройка школы)' <<<"$page" || fail "первая страница: не вход и не настройка"

    # avahi-browse -p escapes every byte outside ASCII letters and digits as \DDD.
    line="=;host0;IPv4;ЭЖ-box (ezh);Web Site;local;ezh.local;$ip;80;"
    for _ in $(seq 1 20); do
        services=$(pc avahi-browse -rtp _http._tcp 2>/dev/null | perl -pe 's/\\(\d{3})/chr($1)/ge')
        grep -qF "$line" <<<"$services" && break
        sleep 0.5
    done
    grep -F "$line" <<<"$services" || fail "avahi-browse не видит «ЭЖ-box (ezh)» на $ip:80: $services"
}

echo "######## коробка: установка в chroot ($ROOT)"
started=$SECONDS
if [[ ${EZH_BOOT_REUSE:-0} == 1 && -L $ROOT/opt/ezh ]]; then
    echo "(EZH_BOOT_REUSE=1: беру уже установленный $ROOT)"
else
    # shellcheck disable=SC2119 # nothing to run in the root after the install
    make_root
fi
# The OS's own DHCP client (see the header); install.sh does not configure the network.
systemctl --root="$ROOT" enable systemd-networkd.service >/dev/null 2>&1
[[ $(cat "$ROOT/etc/hostname") == ezh ]] || fail "install.sh не записал имя ezh в /etc/hostname"
echo "установлено за $((SECONDS - started)) с"

echo "######## компьютер учителя ($PC_ROOT): ${PC_PACKAGES[*]}"
if [[ ${EZH_BOOT_REUSE:-0} == 1 && -x $PC_ROOT/usr/bin/avahi-browse ]]; then
    echo "(EZH_BOOT_REUSE=1: беру уже готовый $PC_ROOT)"
else
    make_pc_root
fi
grep -Eq '^hosts:.*mdns4_minimal' "$PC_ROOT/etc/nsswitch.conf" || fail "в nsswitch.conf нет mdns4_minimal"
if grep -qs 'ezh' "$PC_ROOT/etc/hosts"; then fail "ezh в /etc/hosts компьютера учителя"; fi
grep '^hosts:' "$PC_ROOT/etc/nsswitch.conf"

echo "######## школьная сеть: мост $BRIDGE без адреса хоста, компьютер учителя — роутер с DHCP"
lan_up
ROOT=$PC_ROOT boot_root PC_PID PC /tmp/ezh-lan-pc-console.log \
    --network-bridge="$BRIDGE" --machine=ezh-lan-pc
for _ in $(seq 1 60); do
    pc systemctl is-active --quiet avahi-daemon systemd-networkd &&
        nsenter -t "$PC" -n ip -4 -o addr show dev host0 | grep -qF "$ROUTER_IP/" && break
    sleep 1
done
pc systemctl is-active avahi-daemon systemd-networkd >/dev/null || fail "компьютер учителя не запустил avahi"
[[ -z $(ip -o addr show dev "$BRIDGE") ]] || fail "у хоста есть адрес в школьной сети"
if pc getent hosts ezh.local; then fail "ezh.local находится без коробки"; fi
echo "компьютер учителя готов; без коробки ezh.local не находится"

echo "######## включение коробки"
boot_box_and_wait
resolve_s=$RESOLVE_S
boot_s=$ANSWER_S
check_box_from_pc
echo "имя коробки: $(box cat /proc/sys/kernel/hostname) (машина nspawn: $BOX_NAME)"

echo "######## перезагрузка: systemctl poweroff в коробке, затем снова включение"
off_start=$(now)
box systemctl poweroff || true
for _ in $(seq 1 120); do
    kill -0 "$BOX_PID" 2>/dev/null || break
    sleep 0.5
done
if kill -0 "$BOX_PID" 2>/dev/null; then fail "коробка не выключилась за 60 с"; fi
wait "$BOX_PID" || true
BOX_PID="" BOX=""
off_s=$(since "$off_start")
echo "выключилась за $off_s с"
gone=""
for _ in $(seq 1 20); do
    if ! pc getent hosts ezh.local >/dev/null; then
        gone=yes
        break
    fi
    sleep 0.5
done
[[ -n $gone ]] || fail "ezh.local находится и при выключенной коробке"
echo "пока коробка выключена, ezh.local не находится"

boot_box_and_wait
reboot_s=$ANSWER_S
check_box_from_pc
box systemctl is-active --quiet ezh-web ezh-worker avahi-daemon || fail "службы не запущены"
echo "ezh-web, ezh-worker, avahi-daemon: $(box systemctl is-enabled ezh-web ezh-worker avahi-daemon | paste -sd ' ')"
echo "после перезагрузки коробка снова отвечает на http://ezh.local/ через $reboot_s с"

printf '\n{"ok": true, "box_ip": "%s", "resolve_s": %s, "boot_to_ezh_local_s": %s, "poweroff_s": %s, "reboot_to_ezh_local_s": %s}\n' \
    "$(box_ip)" "$resolve_s" "$boot_s" "$off_s" "$reboot_s"
