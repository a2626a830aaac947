#!/bin/sh
# tests/bench/run.sh [--smoke] [bench.py options] - botu's benchmarks
# (tests/bench/bench.py), from the repository root; `make bench` and
# `make bench-smoke` build what they need first. Needs root: smtp-sink and
# the test servers (tests/servers.sh) run as other users.
set -eu
cd "$(dirname "$0")/../.."
exec /usr/bin/python3 tests/bench/bench.py "$@"
