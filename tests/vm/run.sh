#!/usr/bin/env bash
# tests/vm/run.sh BUILD_DIR [SCRIPT [ARG...]] - boot the test VM once and run
# SCRIPT (a file of tests/vm/, default alsa-tests.sh: every ALSA integration
# check) in it as `bash SCRIPT BUILD_DIR ARG...`; TAP on stdout.  Used by the
# meson test 'vm' (suite vm) and by ./dev test (also with e2e.sh).
#
# Where the VM cannot run (vm-run.sh exits 77), prints "1..0 # SKIP reason"
# and exits 0, so the checks count as skipped, never as passed.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:?usage: run.sh BUILD_DIR [SCRIPT [ARG...]]}" && pwd)
shift
SCRIPT=alsa-tests.sh
if [ $# -gt 0 ]; then SCRIPT=$1; shift; fi
err=$(mktemp)
trap 'rm -f "$err"' EXIT

"$HERE/vm-run.sh" bash "$HERE/$SCRIPT" "$BUILD" "$@" 2>"$err"
rc=$?
case $rc in
    77)
        reason=$(sed -n 's/^vm-run: skip: //p' "$err" | head -n 1)
        echo "1..0 # SKIP ${reason:-the VM cannot run here}"
        exit 0 ;;
    99|124)
        echo "Bail out! the VM failed (vm-run exit $rc)"
        sed 's/^/# /' "$err"
        exit 1 ;;
esac
sed 's/^/# /' "$err"
exit $rc
