#!/bin/sh
# `ezh` for the admin, installed by install.sh as /usr/local/bin/ezh: runs the program
# as the service's user, so data files keep their owner (a database touched by root
# would stop the service), and with the archive stick's folder the services have.
# HOME is ezh's own: under sudo it would stay the admin's, which ezh cannot read.
umask 0027
EZH_MEDIA="${EZH_MEDIA:-/media/ezh-archive}"
HOME=/var/lib/ezh
export EZH_MEDIA HOME
if [ "$(id -u)" -eq 0 ]; then
    exec runuser -u ezh -- /opt/ezh/bin/ezh "$@"
fi
if [ "$(id -un)" = ezh ]; then
    exec /opt/ezh/bin/ezh "$@"
fi
exec sudo -u ezh HOME="$HOME" EZH_MEDIA="$EZH_MEDIA" /opt/ezh/bin/ezh "$@"
