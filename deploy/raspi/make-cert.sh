#!/usr/bin/env bash
# The box's own certificate authority and the HTTPS certificate for ezh.local and the
# box's IPv4 addresses (docs/tls.md). Run by tls-setup.sh; by hand:
#     sudo deploy/raspi/make-cert.sh [/etc/ezh/tls]
# The CA is made once (10 years) and kept; the server certificate (825 days: the most
# Apple devices accept) is made again when it is missing, expires within 30 days, or
# the box's name or addresses changed. Idempotent.
set -euo pipefail

DIR=${1:-/etc/ezh/tls}
# /etc/hostname: install.sh may have just written it (the running name follows at boot).
NAME=${EZH_TLS_NAME:-$(cat /etc/hostname 2>/dev/null || hostname)}
CA_SUBJECT="/O=EZh-box/CN=EZh-box CA $NAME"

umask 077
mkdir -p "$DIR"
cd "$DIR"

if [[ ! -s ca.key || ! -s ca.crt ]]; then
    openssl req -x509 -newkey rsa:3072 -sha256 -nodes -days 3650 \
        -keyout ca.key -out ca.crt -subj "$CA_SUBJECT" \
        -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    echo "создан центр сертификации: $DIR/ca.crt"
fi

# The names and addresses the certificate must cover.
san="DNS:$NAME.local,DNS:$NAME,DNS:localhost,IP:127.0.0.1"
for ip in ${EZH_TLS_IPS:-$(hostname -I 2>/dev/null || true)}; do
    [[ $ip == *:* ]] && continue
    san+=",IP:$ip"
done

current_san() {
    openssl x509 -in ezh.crt -noout -ext subjectAltName 2>/dev/null | tail -n +2 |
        tr -d ' ' | sed 's/IPAddress:/IP:/g'
}

if [[ -s ezh.crt && -s ezh.key ]] &&
    openssl x509 -in ezh.crt -noout -checkend $((30 * 86400)) >/dev/null &&
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
