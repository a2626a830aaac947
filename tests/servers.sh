#!/bin/bash
# tests/servers.sh - throwaway Dovecot and Postfix on 127.0.0.1 for botu's
# integration tests. Needs root (Postfix's master does).
#
#   tests/servers.sh start DIR            create DIR, start everything, write
#                                         DIR/env and print it
#   tests/servers.sh stop [--keep] DIR    stop everything of that instance and
#                                         remove DIR (keep it with --keep)
#   tests/servers.sh doveadm DIR ARGS...  doveadm against that instance
#   tests/servers.sh pids DIR             the processes of that instance
#
# Everything lives under DIR: certificates, configuration, mail, queue, logs
# and sockets. Ports are free ones picked at start, so several instances (of
# several sessions) run side by side. Nothing outside DIR is written: no
# system service, nothing in /etc.
#
# What runs (see the *_conf functions for the details):
#   Dovecot  IMAP (STARTTLS), IMAPS, LMTP; a static passdb: any user name logs
#            in with the one password; a Maildir per user, made on first use
#   Postfix  its own instance (postfix -c DIR/postfix/etc): plain SMTP to inject,
#            submission (STARTTLS required, AUTH required to relay),
#            submissions (implicit TLS), and a submission port that presents
#            a certificate for the wrong host name. The test domains go to
#            Dovecot over LMTP; everything else bounces (default_transport =
#            error), so a bounce comes back to the sender like in real life.
#   tls-forward.py  IMAPS with the wrong-host certificate, in front of
#            Dovecot's plain IMAP port (Dovecot 2.3 cannot pick a certificate
#            per port).
set -eu

PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)

# Domains delivered to Dovecot. BOTU_TEST_EXTRA_DOMAINS adds more.
DOMAINS="lsabewoners.nl example.org example.net botu.test ${BOTU_TEST_EXTRA_DOMAINS:-}"

# For a server set that behaves like a stricter provider (both empty by
# default): BOTU_TEST_POSTFIX_MAIN_CF holds lines appended to main.cf (they
# override what comes before), BOTU_TEST_POSTFIX_SUBMISSION_OPTS
# whitespace-separated name=value pairs, each given as "-o name=value" to
# the services with AUTH (submission, submissions, submission-wrong).
MAIN_CF_EXTRA=${BOTU_TEST_POSTFIX_MAIN_CF:-}
SUBMISSION_OPTS=${BOTU_TEST_POSTFIX_SUBMISSION_OPTS:-}

die() { echo "servers.sh: $*" >&2; exit 1; }
log() { echo "servers.sh: $*" >&2; }

usage() {
	sed -n '5,10p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

# An absolute path without a trailing slash; DIR ends up in configuration
# files and in the /proc scan of "pids", so it must be exact.
abspath() {
	case $1 in
	/*) p=$1 ;;
	*) p=$PWD/$1 ;;
	esac
	while [ "${p%/}" != "$p" ] && [ "$p" != / ]; do p=${p%/}; done
	printf '%s\n' "$p"
}

# ---------------------------------------------------------------- certificates

# A throwaway CA, a certificate for localhost/127.0.0.1 and one for the wrong
# host name, all signed by that CA. EC keys: generated in milliseconds.
make_certs() {
	local t=$1/tls
	mkdir -p "$t"
	chmod 755 "$t"
	(
		umask 077
		cd "$t"
		openssl req -x509 -new -newkey ec \
		    -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
		    -subj "/CN=botu test CA $(basename "$1")" \
		    -addext "basicConstraints=critical,CA:TRUE" \
		    -addext "keyUsage=critical,keyCertSign,cRLSign" \
		    -keyout ca.key -out ca.pem 2>/dev/null
		cert server localhost "DNS:localhost,IP:127.0.0.1"
		cert wrong wrong.example "DNS:wrong.example"
		rm -f ./*.csr ./*.ext ca.srl
	) || die "could not make certificates"
	# Clients (and tests) read the CA; keys stay root's.
	chmod 644 "$t/ca.pem" "$t/server.pem" "$t/wrong.pem"
}

# cert NAME CN SAN: NAME.key and NAME.pem signed by ca.pem (in the cwd).
cert() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -subj "/CN=$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
	cat >"$1.ext" <<-EOF
	subjectAltName=$3
	basicConstraints=critical,CA:FALSE
	keyUsage=critical,digitalSignature
	extendedKeyUsage=serverAuth
	subjectKeyIdentifier=hash
	authorityKeyIdentifier=keyid
	EOF
	openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key \
	    -CAcreateserial -days 30 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
}

# ---------------------------------------------------------------- ports

# N free TCP ports on 127.0.0.1. They are free now; another process could
# take one before we bind it, so "start" retries with new ports when a
# server fails to come up.
free_ports() {
	"$PY" - "$1" <<-'EOF'
	import socket, sys
	socks = []
	for _ in range(int(sys.argv[1])):
	    s = socket.socket()
	    s.bind(("127.0.0.1", 0))
	    socks.append(s)  # keep all open so the N ports differ
	print(" ".join(str(s.getsockname()[1]) for s in socks))
	EOF
}

# wait_ports PID PORT... : until every port accepts a connection; fails
# after 10 s, or at once when process PID (the forwarder, which binds after
# it was started in the background) has died.
wait_ports() {
	local n=100 pid=$1 port
	shift
	for port in "$@"; do
		while ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
			n=$((n - 1))
			[ "$n" -gt 0 ] && [ -n "$(alive "$pid")" ] || return 1
			sleep 0.1
		done
	done
}

# ---------------------------------------------------------------- Dovecot

dovecot_conf() {
	local d=$1
	local uid
	uid=$(id -u dovecot)
	cat <<-EOF
	# Generated by tests/servers.sh for one test instance.
	instance_name = $(basename "$d")
	base_dir = $d/dovecot/run
	state_dir = $d/dovecot/state
	log_path = $d/dovecot/dovecot.log
	auth_verbose = yes

	protocols = imap lmtp
	listen = 127.0.0.1

	ssl = yes
	ssl_cert = <$d/tls/server.pem
	ssl_key = <$d/tls/server.key
	ssl_min_protocol = TLSv1.2

	# One password for every user name; the mail of user@domain is the
	# Maildir $d/mail/domain/user, made on first use and owned by the
	# dovecot user (Dovecot refuses to store mail as root).
	auth_mechanisms = plain login
	passdb {
	  driver = static
	  args = password=$PASSWORD
	}
	userdb {
	  driver = static
	  args = uid=dovecot gid=dovecot home=$d/mail/%d/%n
	}
	first_valid_uid = $uid
	last_valid_uid = $uid
	mail_location = maildir:~/Maildir

	# Mail to user+detail@domain goes to user@domain's INBOX; the
	# Delivered-To header keeps the full address (lmtp_hdr_delivery_address
	# = final, the default).
	recipient_delimiter = +
	lmtp_save_to_detail_mailbox = no

	service imap-login {
	  inet_listener imap {
	    address = 127.0.0.1
	    port = $IMAP_PORT
	  }
	  inet_listener imaps {
	    address = 127.0.0.1
	    port = $IMAPS_PORT
	    ssl = yes
	  }
	}
	service lmtp {
	  inet_listener lmtp {
	    address = 127.0.0.1
	    port = $LMTP_PORT
	  }
	}
	# No anvil auth penalty: all tests log in from 127.0.0.1, and after a
	# few failed logins (tests of wrong passwords) every later login, also
	# a good one, would wait up to 15 s. A failed login still waits
	# auth_failure_delay (2 s), as on a real server. Mode 0: no socket.
	service anvil {
	  unix_listener anvil-auth-penalty {
	    mode = 0
	  }
	}
	# Postfix's smtpd asks this socket to check SMTP AUTH.
	service auth {
	  unix_listener auth-client {
	    mode = 0660
	    user = postfix
	    group = postfix
	  }
	}
	EOF
}

start_dovecot() {
	local d=$1
	mkdir -p "$d/dovecot/run" "$d/dovecot/state" "$d/mail"
	chown dovecot:dovecot "$d/mail"
	chmod 755 "$d/dovecot"
	dovecot_conf "$d" >"$d/dovecot/dovecot.conf"
	# Dovecot binds its ports before it goes to the background, so a
	# taken port is an error here.
	dovecot -c "$d/dovecot/dovecot.conf" </dev/null >>"$d/dovecot/start.log" 2>&1
}

# ---------------------------------------------------------------- Postfix

postfix_main_cf() {
	local d=$1
	cat <<-EOF
	# Generated by tests/servers.sh for one test instance.
	compatibility_level = 3.6
	queue_directory = $d/postfix/queue
	data_directory = $d/postfix/data
	# Log to a file of this instance (postlogd); Postfix only writes
	# under maillog_file_prefixes.
	maillog_file = $d/postfix/maillog
	maillog_file_prefixes = $d/postfix
	mail_owner = postfix
	setgid_group = postdrop

	inet_interfaces = 127.0.0.1
	inet_protocols = ipv4
	myhostname = mail.botu.test
	mydomain = botu.test
	myorigin = \$myhostname
	mynetworks = 127.0.0.0/8
	smtpd_peername_lookup = no

	# The test domains are delivered over LMTP to this instance's Dovecot,
	# any local part (empty local_recipient_maps). Nothing else leaves:
	# mail for other domains is accepted and then bounced to its sender,
	# like a provider does for an address that turns out not to exist
	# (smtpd would otherwise refuse it at RCPT already).
	mydestination = \$myhostname localhost $DOMAINS
	local_recipient_maps =
	local_transport = lmtp:inet:127.0.0.1:$LMTP_PORT
	alias_maps =
	alias_database =
	relayhost =
	default_transport = error:5.1.1 outside the test domains
	smtpd_reject_unlisted_recipient = no
	recipient_delimiter = +
	append_dot_mydomain = no
	biff = no

	# Tests are impatient: no pauses after errors or under load, and
	# retry a deferred delivery within seconds.
	smtpd_error_sleep_time = 0
	smtpd_soft_error_limit = 1000
	in_flow_delay = 0
	queue_run_delay = 1s
	minimal_backoff_time = 1s
	maximal_backoff_time = 5s
	delay_warning_time = 0

	smtpd_tls_cert_file = $d/tls/server.pem
	smtpd_tls_key_file = $d/tls/server.key
	smtpd_tls_security_level = may
	smtpd_tls_loglevel = 1
	smtpd_tls_received_header = yes

	smtpd_sasl_type = dovecot
	smtpd_sasl_path = $d/dovecot/run/auth-client
	smtpd_sasl_auth_enable = no
	EOF
	if [ -n "$MAIN_CF_EXTRA" ]; then
		printf '\n# BOTU_TEST_POSTFIX_MAIN_CF\n%s\n' "$MAIN_CF_EXTRA"
	fi
}

# Every daemon unchrooted (column 5 = n): the chroot would need copies of
# files and sockets under the queue folder.
postfix_master_cf() {
	local d=$1
	local sub="-o smtpd_sasl_auth_enable=yes -o smtpd_tls_auth_only=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject"
	local opt
	for opt in $SUBMISSION_OPTS; do
		sub="$sub
  -o $opt"
	done
	cat <<-EOF
	# Generated by tests/servers.sh for one test instance.
	# Plain SMTP (the port 25 role), no AUTH: tests inject mail here.
	127.0.0.1:$SMTP_PORT inet n - n - - smtpd
	# Submission (587 role): STARTTLS required, AUTH required for anything.
	127.0.0.1:$SUBMISSION_PORT inet n - n - - smtpd
	  -o syslog_name=postfix/submission
	  -o smtpd_tls_security_level=encrypt
	  $sub
	# Submissions (465 role): implicit TLS, AUTH required.
	127.0.0.1:$SUBMISSIONS_PORT inet n - n - - smtpd
	  -o syslog_name=postfix/submissions
	  -o smtpd_tls_wrappermode=yes
	  $sub
	# Submission that presents the certificate for the wrong host name.
	127.0.0.1:$SUBMISSION_WRONG_PORT inet n - n - - smtpd
	  -o syslog_name=postfix/submission-wrong
	  -o smtpd_tls_security_level=encrypt
	  -o smtpd_tls_cert_file=$d/tls/wrong.pem
	  -o smtpd_tls_key_file=$d/tls/wrong.key
	  $sub
	pickup    unix  n       -       n       60      1       pickup
	cleanup   unix  n       -       n       -       0       cleanup
	qmgr      unix  n       -       n       300     1       qmgr
	tlsmgr    unix  -       -       n       1000?   1       tlsmgr
	rewrite   unix  -       -       n       -       -       trivial-rewrite
	bounce    unix  -       -       n       -       0       bounce
	defer     unix  -       -       n       -       0       bounce
	trace     unix  -       -       n       -       0       bounce
	verify    unix  -       -       n       -       1       verify
	flush     unix  n       -       n       1000?   0       flush
	proxymap  unix  -       -       n       -       -       proxymap
	proxywrite unix -       -       n       -       1       proxymap
	smtp      unix  -       -       n       -       -       smtp
	relay     unix  -       -       n       -       -       smtp
	showq     unix  n       -       n       -       -       showq
	error     unix  -       -       n       -       -       error
	retry     unix  -       -       n       -       -       error
	discard   unix  -       -       n       -       -       discard
	lmtp      unix  -       -       n       -       -       lmtp
	anvil     unix  -       -       n       -       1       anvil
	scache    unix  -       -       n       -       1       scache
	postlog   unix-dgram n  -       n       -       1       postlogd
	EOF
}

start_postfix() {
	local d=$1
	# Postfix makes the folders inside its queue folder, not the folder.
	# Configuration apart from queue and data: "postfix start" warns about
	# every file below the configuration folder not owned by root.
	mkdir -p "$d/postfix/etc" "$d/postfix/queue"
	chmod 755 "$d/postfix" "$d/postfix/etc" "$d/postfix/queue"
	postfix_main_cf "$d" >"$d/postfix/etc/main.cf"
	postfix_master_cf "$d" >"$d/postfix/etc/master.cf"
	# Postfix distrusts a main.cf changed within the last second (it might
	# be half written) and rereads it every 300 ms until it is older: that
	# would cost up to 2 s on every start. Date the files a minute back.
	touch -d "@$(($(date +%s) - 60))" "$d/postfix/etc/main.cf" \
	    "$d/postfix/etc/master.cf"
	# "postfix start" makes the queue folders and waits (master -w) until
	# the master has bound every listener: it fails if a port is taken.
	postfix -c "$d/postfix/etc" start </dev/null >>"$d/postfix/start.log" 2>&1
}

# ---------------------------------------------------------------- forwarder

start_forwarder() {
	local d=$1
	# setsid: a Ctrl-C meant for the test runner must not kill it halfway;
	# "stop" ends it.
	setsid "$PY" "$HERE/tls-forward.py" "$IMAPS_WRONG_PORT" "$IMAP_PORT" \
	    "$d/tls/wrong.pem" "$d/tls/wrong.key" \
	    </dev/null >>"$d/tls-forward.log" 2>&1 &
	echo $! >"$d/tls-forward.pid"
}

# ---------------------------------------------------------------- start

write_env() {
	local d=$1
	cat <<-EOF
	BOTU_TEST_DIR=$d
	BOTU_TEST_CA=$d/tls/ca.pem
	BOTU_TEST_HOST=127.0.0.1
	BOTU_TEST_PASSWORD=$PASSWORD
	BOTU_TEST_PASSWORD_FILE=$d/password
	BOTU_TEST_IMAP_PORT=$IMAP_PORT
	BOTU_TEST_IMAPS_PORT=$IMAPS_PORT
	BOTU_TEST_IMAPS_WRONG_PORT=$IMAPS_WRONG_PORT
	BOTU_TEST_LMTP_PORT=$LMTP_PORT
	BOTU_TEST_SMTP_PORT=$SMTP_PORT
	BOTU_TEST_SUBMISSION_PORT=$SUBMISSION_PORT
	BOTU_TEST_SUBMISSIONS_PORT=$SUBMISSIONS_PORT
	BOTU_TEST_SUBMISSION_WRONG_PORT=$SUBMISSION_WRONG_PORT
	BOTU_TEST_DOMAINS=$(echo "$DOMAINS" | xargs | tr ' ' ,)
	BOTU_TEST_DOVECOT_CONF=$d/dovecot/dovecot.conf
	BOTU_TEST_DOVECOT_PID=$(cat "$d/dovecot/run/master.pid")
	BOTU_TEST_DOVECOT_LOG=$d/dovecot/dovecot.log
	BOTU_TEST_MAILDIRS=$d/mail
	BOTU_TEST_POSTFIX_CONFIG=$d/postfix/etc
	BOTU_TEST_POSTFIX_PID=$(sed -n '1s/ //gp' "$d/postfix/queue/pid/master.pid")
	BOTU_TEST_POSTFIX_QUEUE=$d/postfix/queue
	BOTU_TEST_POSTFIX_LOG=$d/postfix/maillog
	BOTU_TEST_FORWARDER_PID=$(cat "$d/tls-forward.pid")
	EOF
}

cmd_start() {
	[ $# -eq 1 ] || usage
	[ "$(id -u)" -eq 0 ] || die "needs root (Postfix's master does)"
	local d
	d=$(abspath "$1")
	# Unix socket paths are limited to 108 bytes; Dovecot's longest is
	# about 40 bytes below base_dir.
	[ ${#d} -le 60 ] || die "DIR too long for unix sockets: $d"
	# DIR ends up in DIR/env, which sh sources: no spaces or quotes.
	case $d in *[!A-Za-z0-9._/+-]*) die "DIR may only have [A-Za-z0-9._/+-]: $d" ;; esac
	if [ -e "$d" ] && [ -n "$(ls -A "$d")" ]; then
		die "$d exists and is not empty"
	fi
	# The dovecot user must reach DIR/mail and the sockets: every existing
	# folder above DIR must let it through (/root does not).
	local p=$d
	while [ "$p" != / ]; do
		p=$(dirname "$p")
		[ -d "$p" ] || continue
		setpriv --reuid=dovecot --regid=dovecot --clear-groups \
		    test -x "$p" 2>/dev/null ||
		    die "the dovecot user cannot traverse $p (use a folder under /tmp)"
	done
	mkdir -p "$d"
	chmod 755 "$d"

	PASSWORD=$("$PY" -c 'import secrets; print(secrets.token_hex(12))')
	(umask 077 && printf '%s\n' "$PASSWORD" >"$d/password")
	make_certs "$d"

	# Up to three tries with fresh ports: a port that was free a moment ago
	# may have been taken by someone else meanwhile.
	local try ok=0
	for try in 1 2 3; do
		# shellcheck disable=SC2046
		set -- $(free_ports 8)
		IMAP_PORT=$1 IMAPS_PORT=$2 IMAPS_WRONG_PORT=$3 LMTP_PORT=$4
		SMTP_PORT=$5 SUBMISSION_PORT=$6 SUBMISSIONS_PORT=$7
		SUBMISSION_WRONG_PORT=$8
		if start_dovecot "$d" && start_postfix "$d" &&
		    start_forwarder "$d" &&
		    wait_ports "$(cat "$d/tls-forward.pid")" \
			"$IMAP_PORT" "$IMAPS_PORT" "$LMTP_PORT" "$SMTP_PORT" \
			"$SUBMISSION_PORT" "$SUBMISSIONS_PORT" \
			"$SUBMISSION_WRONG_PORT" "$IMAPS_WRONG_PORT" &&
		    [ -S "$d/dovecot/run/auth-client" ] &&
		    [ -n "$(alive "$(cat "$d/tls-forward.pid")")" ]; then
			ok=1
			break
		fi
		log "try $try failed; see $d/dovecot/start.log, $d/postfix/start.log, $d/tls-forward.log"
		stop_all "$d"
	done
	if [ $ok = 0 ]; then
		tail -n 20 "$d/dovecot/start.log" "$d/postfix/start.log" \
		    "$d/tls-forward.log" "$d/dovecot/dovecot.log" >&2 || true
		die "servers did not start; $d kept for inspection"
	fi
	write_env "$d" >"$d/env.tmp"
	mv "$d/env.tmp" "$d/env"
	cat "$d/env"
}

# ---------------------------------------------------------------- stop

# The pids of every process of the instance in DIR: its Postfix processes
# carry MAIL_CONFIG=DIR/postfix/etc in their environment, Dovecot's master
# and the forwarder name DIR on their command line, and Dovecot's other
# processes are children of its master (their names carry only the
# instance_name). One Python process: a shell loop over /proc is slow.
instance_pids() {
	"$PY" - "$1" "$$" <<-'EOF'
	import os, sys
	d, me = sys.argv[1], sys.argv[2]
	def read(pid, name):
	    try:
	        with open(f"/proc/{pid}/{name}", "rb") as f:
	            return f.read()
	    except OSError:  # gone, or not ours to read
	        return b""
	try:
	    with open(f"{d}/dovecot/run/master.pid") as f:
	        masters = {f.read().strip()}
	except OSError:
	    masters = set()
	env = f"MAIL_CONFIG={d}/postfix/etc".encode()
	path = f"{d}/".encode()
	own = {str(os.getpid()), me, str(os.getppid())}
	for pid in os.listdir("/proc"):
	    if not pid.isdigit() or pid in own:
	        continue
	    stat = read(pid, "stat").rpartition(b")")[2].split()
	    if not stat or stat[0] == b"Z":  # gone, or a zombie (see alive)
	        continue
	    ppid = stat[1:2]
	    if (env in read(pid, "environ").split(b"\0")
	            or path in read(pid, "cmdline")
	            or (ppid and ppid[0].decode() in masters)):
	        print(pid)
	EOF
}

# The pids, of those given, that still run. A zombie does not count: it has
# let go of its ports and files, and on this kind of machine pid 1 reaps
# orphans only every few seconds.
alive() {
	local p stat
	for p in "$@"; do
		{ read -r stat <"/proc/$p/stat"; } 2>/dev/null || continue
		stat=${stat##*) }
		[ "${stat%% *}" = Z ] || echo "$p"
	done
}

# kill_ours DIR PIDFILE: SIGTERM to the pid in PIDFILE if that process is
# still the one started for DIR (its command line names DIR): a stale pid
# file must not hit an unrelated process that got the same pid.
kill_ours() {
	local pid
	[ -f "$2" ] || return 0
	pid=$(cat "$2" 2>/dev/null) || return 0
	case $pid in '' | *[!0-9]*) return 0 ;; esac
	if tr '\0' '\n' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF "$1/"; then
		kill "$pid" 2>/dev/null || true
	fi
}

# Stop whatever runs: politely, then wait, then by force.
stop_all() {
	local d=$1 pids n
	# Before the masters go: their children are found through them.
	pids=$(instance_pids "$d")
	if [ -f "$d/postfix/etc/main.cf" ] && [ -f "$d/postfix/queue/pid/master.pid" ]; then
		postfix -c "$d/postfix/etc" stop >/dev/null 2>&1 || true
	fi
	# Not "doveadm stop": it polls until the master's pid is gone, which
	# takes until pid 1 reaps it (seconds here). SIGTERM is what it sends.
	kill_ours "$d" "$d/dovecot/run/master.pid"
	kill_ours "$d" "$d/tls-forward.pid"
	[ -n "$pids" ] || return 0
	# Up to 5 s for a clean exit, then SIGKILL what is left.
	for n in $(seq 50); do
		# shellcheck disable=SC2086 # a list of numbers
		pids=$(alive $pids)
		[ -n "$pids" ] || break
		sleep 0.1
	done
	# Re-scan too: a process may have been started meanwhile.
	pids="$pids $(instance_pids "$d")"
	for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
	for n in $(seq 20); do
		[ -z "$(instance_pids "$d")" ] && return 0
		sleep 0.1
	done
	log "processes of $d survived SIGKILL: $(instance_pids "$d" | tr '\n' ' ')"
	return 1
}

cmd_stop() {
	local keep=0
	if [ "${1:-}" = --keep ]; then keep=1; shift; fi
	[ $# -eq 1 ] || usage
	local d
	d=$(abspath "$1")
	[ -d "$d" ] || return 0
	# An empty folder: a start that never began (e.g. made by mktemp).
	rmdir "$d" 2>/dev/null && return 0
	# Refuse a folder that was never an instance: "stop" removes it.
	[ -f "$d/tls/ca.pem" ] || [ -f "$d/password" ] ||
	    die "$d does not look like a servers.sh folder"
	stop_all "$d"
	[ $keep = 1 ] || rm -rf "$d"
}

cmd_doveadm() {
	[ $# -ge 1 ] || usage
	local d
	d=$(abspath "$1")
	shift
	[ -f "$d/dovecot/dovecot.conf" ] || die "no Dovecot instance in $d"
	exec doveadm -c "$d/dovecot/dovecot.conf" "$@"
}

cmd_pids() {
	[ $# -eq 1 ] || usage
	instance_pids "$(abspath "$1")"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
start) cmd_start "$@" ;;
stop) cmd_stop "$@" ;;
doveadm) cmd_doveadm "$@" ;;
pids) cmd_pids "$@" ;;
*) usage ;;
esac
