#!/bin/sh
# Installs every package botu needs to build, test, benchmark and run its demo
# on Debian 12, and nothing when they are all there already. Needs root for
# apt-get. Postfix is preseeded to "No configuration" and no system service is
# started: the tests run their own Dovecot and Postfix (tests/servers.sh).
set -eu

PKGS="
build-essential pkg-config
libetpan-dev libcurl4-gnutls-dev libsqlite3-dev libical-dev libinih-dev
libgnutls28-dev libcmocka-dev
ca-certificates openssl sqlite3 python3 python3-icalendar python3-vobject
dovecot-imapd dovecot-lmtpd postfix
mlmmj time valgrind clang libclang-rt-14-dev chromium
mandoc faketime systemd
"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$missing" >&2
	echo "install-deps: run as root, or install them with apt-get" >&2
	exit 69
fi

echo "install-deps: installing$missing"
echo "postfix postfix/main_mailer_type select No configuration" |
    debconf-set-selections

# Keep the packages from starting system-wide Dovecot/Postfix services
# (TESTING.md): a policy-rc.d that says 101 ("action forbidden").
own_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	own_policy=1
fi
cleanup() { [ "$own_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -q || true
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
