#!/usr/bin/env bash
# Optional HTTPS for ЭЖ-box (install.sh --tls; docs/tls.md): nginx-light on port 443
# in front of the journal's own server on port 80, with a certificate from the box's
# own CA. Plain HTTP on port 80 stays. Idempotent.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$HERE/common.sh"
need_root

say "HTTPS: nginx-light и сертификат"
export DEBIAN_FRONTEND=noninteractive
if ! dpkg -s nginx-light >/dev/null 2>&1; then
    # nginx's own default site wants port 80, which the journal holds: keep it from
    # starting during the install, then remove that site.
    policy=/usr/sbin/policy-rc.d
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 0755 "$policy"
        trap 'rm -f "$policy"' EXIT
    fi
    apt-get install -y -q --no-install-recommends nginx-light openssl
    rm -f "$policy"
    trap - EXIT
fi
rm -f /etc/nginx/sites-enabled/default
"$HERE/make-cert.sh" /etc/ezh/tls
install -m 0644 "$HERE/nginx-ezh-tls.conf" /etc/nginx/sites-available/ezh-tls.conf
ln -sfn /etc/nginx/sites-available/ezh-tls.conf /etc/nginx/sites-enabled/ezh-tls.conf
nginx -t 2>&1 | sed 's/^/    /'
sctl enable nginx.service
# The journal believes X-Forwarded-For from nginx only: the audit and the login lockout
# see the device's address, not 127.0.0.1.
dropin=/etc/systemd/system/ezh-web.service.d
mkdir -p "$dropin"
cat >"$dropin/tls.conf" <<'UNIT'
[Service]
ExecStart=
ExecStart=/opt/ezh/bin/ezh serve --data /var/lib/ezh --host 0.0.0.0 --port 80 --trusted-proxy 127.0.0.1
UNIT
sctl daemon-reload
if systemd_running; then
    systemctl reload-or-restart nginx.service
    systemctl restart ezh-web.service
fi
note "сертификат центра для школьных устройств: /etc/ezh/tls/ca.crt (docs/tls.md)"
