#!/bin/sh
# tests/fuzz/run.sh SECONDS TARGET... - replays each target's regression
# files, then fuzzes it for SECONDS, seeded from the project's test mails
# and ../shared/corpora. Stops at the first crash (exit 1), which leaves
# its input in build-fuzz/crashes/: add it to tests/fuzz/regressions/.
set -eu
cd "$(dirname "$0")/../.."
seconds=$1
shift
corpora=../shared/corpora
status=0
for t in "$@"; do
	name=$(basename "$t")
	work=build-fuzz/corpus/$name
	regress=tests/fuzz/regressions/$name
	mkdir -p "$work" build-fuzz/crashes
	seeds=""
	for d in tests/data/intent tests/data/members "$corpora/mime" \
	    "$corpora/bounces" \
	    "tests/fuzz/seeds/$name"; do
		[ -d "$d" ] && seeds="$seeds $d"
	done
	if [ -d "$regress" ] && [ -n "$(ls "$regress")" ]; then
		"$t" "$regress"/* >/dev/null 2>&1 || {
			echo "fuzz: $name fails a regression file in $regress" >&2
			status=1
			continue
		}
	fi
	echo "== $name: $seconds s"
	# shellcheck disable=SC2086
	if ! "$t" -max_total_time="$seconds" -max_len=16384 -timeout=10 \
	    -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix=build-fuzz/crashes/"$name"- \
	    "$work" $seeds >build-fuzz/"$name".log 2>&1; then
		tail -40 build-fuzz/"$name".log >&2
		echo "fuzz: $name crashed; see build-fuzz/crashes/" >&2
		status=1
	else
		grep -E 'stat::number_of_executed_units' build-fuzz/"$name".log |
		    sed "s/^/  /"
	fi
done
exit $status
