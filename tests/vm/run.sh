#!/usr/bin/env bash
# tests/vm/run.sh BUILD_DIR - boot the test VM once and run every ALSA
# integration check in it (alsa-tests.sh); TAP on stdout.  Used by the meson
# test 'vm' (suite vm) and by ./dev test.
#
# Where the VM cannot run (vm-run.sh exits 77), prints "1..0 # SKIP reason"
# and exits 0, so the checks count as skipped, never as passed.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
err=$(mktemp)
trap 'rm -f "$err"' EXIT

"$HERE/vm-run.sh" bash "$HERE/alsa-tests.sh" "$BUILD" 2>"$err"
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
