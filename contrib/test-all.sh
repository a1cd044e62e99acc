#!/bin/sh
# test-all.sh - the whole test suite, from a fresh clone of gptmilter:
# install every dependency (contrib/install-deps.sh), build with warnings as
# errors, run `make check`, then the same suite built with AddressSanitizer
# and UndefinedBehaviorSanitizer (`make check-asan`), and print one summary
# line "N passed, N failed". Exit status 0 only when nothing failed.
# Usage: sh contrib/test-all.sh      (as root, or with sudo for the install)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1

sh contrib/install-deps.sh || { echo "install-deps failed"; exit 1; }
autoreconf -fi || exit 1
mkdir -p build && cd build || exit 1
../configure --enable-werror || exit 1
make -j2 || exit 1

status=0
make -j2 check || status=1
make check-asan || status=1

# Sum the counts of both runs from Automake's test-suite.log headers.
count() {
	cat test-suite.log build-asan/test-suite.log 2>/dev/null |
		sed -n "s/^# $1: *//p" | awk '{s += $1} END {print s + 0}'
}
pass=$(count PASS); xfail=$(count XFAIL)
fail=$(count FAIL); xpass=$(count XPASS); err=$(count ERROR); skip=$(count SKIP)
for log in test-suite.log build-asan/test-suite.log; do
	[ -f "$log" ] || { echo "missing $log: a test run did not finish"; status=1; }
done
echo "$((pass + xfail)) passed, $((fail + xpass + err)) failed, $skip skipped"
[ $((fail + xpass + err)) -eq 0 ] || status=1
exit $status
