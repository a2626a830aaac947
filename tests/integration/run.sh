#!/bin/bash
# tests/integration/run.sh [FILE...] - runs botu's integration tests: every
# tests/integration/test_*.py, or the files given, each with
# `/usr/bin/python3 -m unittest -v` in its own process, from the repository
# root. Exits non-zero if any test fails. Needs root (tests/servers.sh).
#
# Each test file starts its own server set through botutest (one Dovecot
# and one Postfix for all its tests), under a folder made here. Whatever
# happens to a test process (a failure, Ctrl-C, SIGTERM, a hang ended by the
# timeout, even SIGKILL), every server set under that folder is stopped and
# the folder removed when this script ends.
#
# Environment:
#   BOTU_TEST_FILE_TIMEOUT  seconds one test file may take (default 900)
#   BOTU_TEST_ENV           DIR/env of a running server set to use instead
#                           (see botutest.py); it is left running
#   BOTU_BIN                the botu binary the tests run (default ./botu)
set -u

cd "$(dirname "$0")/../.." || exit 1
PY=/usr/bin/python3

if [ "$(id -u)" -ne 0 ]; then
	echo "run.sh: needs root: tests/servers.sh starts a Postfix master" >&2
	exit 1
fi

if [ $# -gt 0 ]; then
	files=("$@")
else
	files=(tests/integration/test_*.py)
fi
for f in "${files[@]}"; do
	[ -f "$f" ] || { echo "run.sh: no such test file: $f" >&2; exit 2; }
done

# Under /tmp, traversable by the dovecot user (not under /root, not 0700).
BOTU_TEST_TMP=$(mktemp -d /tmp/botu-it.XXXXXX) || exit 1
chmod 755 "$BOTU_TEST_TMP"
export BOTU_TEST_TMP

child=
cleanup() {
	trap - EXIT INT TERM HUP
	if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
		# botutest turns SIGTERM into a clean stop of its servers.
		kill -TERM "$child" 2>/dev/null
		wait "$child" 2>/dev/null
	fi
	local d
	[ -d "${BOTU_TEST_TMP:-}" ] || return 0
	for d in "$BOTU_TEST_TMP"/*/; do
		[ -d "$d" ] && tests/servers.sh stop "${d%/}"
	done
	rm -rf "$BOTU_TEST_TMP"
}
trap cleanup EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT TERM HUP

failed=()
start=$(date +%s)
for f in "${files[@]}"; do
	echo "=== $f"
	# In the background so that a signal to this script is handled at
	# once (bash runs a trap only after the foreground command ends).
	timeout --kill-after=30 "${BOTU_TEST_FILE_TIMEOUT:-900}" \
	    "$PY" -m unittest -v "$f" </dev/null &
	child=$!
	wait "$child"
	rc=$?
	child=
	case $rc in
	124) echo "run.sh: $f timed out" >&2 ;;
	137) echo "run.sh: $f was killed (or timed out)" >&2 ;;
	esac
	[ "$rc" -eq 0 ] || failed+=("$f")
done

echo "=== ${#files[@]} test files in $(($(date +%s) - start)) s," \
    "${#failed[@]} failed${failed[*]:+: ${failed[*]}}"
[ ${#failed[@]} -eq 0 ]
