#!/usr/bin/env bash
# The box's own certificate authority and the HTTPS certificate for ezh.local and the
# box's IPv4 addresses (docs/tls.md). Run by tls-setup.sh; by hand:
#     sudo /usr/local/lib/ezh/make-cert.sh [/etc/ezh/tls] [--reload]
# The CA is made once (10 years) and kept; it may sign only for *.local, the box's name,
# 127.0.0.0/8 and the private IPv4 ranges (nameConstraints): a stolen CA key cannot fake
# other sites for the school's devices. The server certificate (825 days: the most Apple
# devices accept) is made again when it is missing, expires within EZH_CERT_RENEW_DAYS
# (30; the monthly ezh-tls-renew.timer passes 60), or the box's name or addresses changed.
# --reload: reload nginx after a new certificate. Idempotent.
set -euo pipefail

DIR=/etc/ezh/tls
RELOAD=no
for arg in "$@"; do
    case $arg in
        --reload) RELOAD=yes ;;
        *) DIR=$arg ;;
    esac
done
RENEW_DAYS=${EZH_CERT_RENEW_DAYS:-30}
# /etc/hostname: install.sh may have just written it (the running name follows at boot).
NAME=${EZH_TLS_NAME:-$(cat /etc/hostname 2>/dev/null || hostname)}
CA_SUBJECT="/O=EZh-box/CN=EZh-box CA $NAME"

umask 077
mkdir -p "$DIR"
# The certificates are public and `ezh doctor` (user ezh) reads their dates; the keys
# stay root's alone (0600).
chmod 0755 "$DIR"
cd "$DIR"

if [[ ! -s ca.key || ! -s ca.crt ]]; then
    openssl req -x509 -newkey rsa:3072 -sha256 -nodes -days 3650 \
        -keyout ca.key -out ca.crt -subj "$CA_SUBJECT" \
        -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "nameConstraints=critical,permitted;DNS:local,permitted;DNS:$NAME,permitted;DNS:localhost,permitted;IP:127.0.0.0/255.0.0.0,permitted;IP:10.0.0.0/255.0.0.0,permitted;IP:172.16.0.0/255.240.0.0,permitted;IP:192.168.0.0/255.255.0.0,permitted;IP:169.254.0.0/255.255.0.0" \
        2>/dev/null
    echo "создан центр сертификации: $DIR/ca.crt"
fi

# The names and addresses the certificate must cover.
san="DNS:$NAME.local,DNS:$NAME,DNS:localhost,IP:127.0.0.1"
for ip in ${EZH_TLS_IPS:-$(hostname -I 2>/dev/null || true)}; do
    [[ $ip == *:* ]] && continue
    # Only what the CA may sign for (a public address would make the certificate invalid).
    [[ $ip =~ ^(10\.|192\.168\.|169\.254\.|172\.(1[6-9]|2[0-9]|3[01])\.) ]] || continue
    san+=",IP:$ip"
done

current_san() {
    openssl x509 -in ezh.crt -noout -ext subjectAltName 2>/dev/null | tail -n +2 |
        tr -d ' ' | sed 's/IPAddress:/IP:/g'
}

if [[ -s ezh.crt && -s ezh.key ]] &&
    openssl x509 -in ezh.crt -noout -checkend $((RENEW_DAYS * 86400)) >/dev/null &&
    [[ $(current_san) == "$san" ]]; then
    echo "сертификат $DIR/ezh.crt действителен ($san)"
    exit 0
fi

openssl req -new -newkey rsa:2048 -sha256 -nodes -keyout ezh.key -out ezh.csr \
    -subj "/CN=$NAME.local" 2>/dev/null
printf '%s\n' \
    "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" \
    "subjectAltName=$san" >ezh.ext
openssl x509 -req -in ezh.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
    -days 825 -sha256 -extfile ezh.ext -out ezh.crt 2>/dev/null
rm -f ezh.csr ezh.ext
chmod 0644 ca.crt ezh.crt
chmod 0600 ca.key ezh.key
echo "выпущен сертификат $DIR/ezh.crt для $san (действует 825 дней)"
if [[ $RELOAD == yes ]] && [[ -d /run/systemd/system ]]; then
    systemctl try-reload-or-restart nginx.service || true
fi
