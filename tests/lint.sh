#!/bin/sh
# House style (STYLE.md §16), checked on every `make check`:
# banned functions, lines of at most 80 columns (tab stops every 8), no
# typedef'd structs, no "#if 0", and no assignment inside an if condition.
set -u
cd "$(dirname "$0")/.." || exit 1

files=$(ls src/*.c src/*.h include/botu/*.h tests/unit/*.c tests/unit/*.h \
    tests/integration/*.c tests/fuzz/*.c tests/fuzz/*.h \
    2>/dev/null)
status=0

complain() {
	echo "lint: $*" >&2
	status=1
}

# Unbounded or stateful string functions: use snprintf, str_copy, buf_*,
# strtok_r, str_to_int instead.
banned='\b(sprintf|vsprintf|strcpy|strcat|strncpy|strncat|strtok|atoi|atol|gets|tmpnam|mktemp)[[:space:]]*\('
out=$(grep -nE "$banned" $files)
[ -n "$out" ] && complain "banned function:
$out"

out=$(grep -nE '^[[:space:]]*typedef[[:space:]]+struct' $files)
[ -n "$out" ] && complain "typedef'd struct (write struct name):
$out"

out=$(grep -nE '^[[:space:]]*#[[:space:]]*if[[:space:]]+0' $files)
[ -n "$out" ] && complain "#if 0 block (delete dead code):
$out"

# "if (x = f())" but not ==, !=, <=, >=.
out=$(grep -nE '\bif[[:space:]]*\(([^()=!<>]|\([^()]*\))*[^=!<>]=[^=]' \
    $files | grep -vE '"[^"]*=[^"]*"')
[ -n "$out" ] && complain "assignment inside if:
$out"

# Columns as an editor shows them: characters, not bytes, and a tab goes
# to the next multiple of 8.
out=$(perl -CSD -ne 'chomp; my $c = 0;
	for my $ch (split //) { $c = $ch eq "\t" ? $c + 8 - $c % 8 : $c + 1 }
	print "$ARGV:$.: $c columns\n" if $c > 80;
	close ARGV if eof' $files)
[ -n "$out" ] && complain "line longer than 80 columns:
$out"

[ $status -eq 0 ] && echo "lint: ok"
exit $status
