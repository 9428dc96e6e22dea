#!/usr/bin/env bash
# The systemd unit: it has what the daemon relies on (Type=notify with a
# watchdog, restart on failure, the RT and memlock limits, the audio group),
# `systemd-analyze verify` passes and the offline security exposure is under
# 2.0.  TAP output; the systemd-analyze checks skip where it is absent.
# usage: test_unit_file.sh BUILT_UNIT PHASORSYNCD CONFIG
set -u
unit=$(realpath "$1") daemon=$(realpath "$2") conf=$(realpath "$3")
echo "1..3"
missing=""
for line in Type=notify WatchdogSec=5s Restart=on-failure LimitRTPRIO=95 LimitMEMLOCK=infinity \
            DynamicUser=yes SupplementaryGroups=audio; do
    grep -qx "$line" "$unit" || missing="$missing $line"
done
report_lines() {
    if [ -z "$missing" ]; then
        echo "ok 3 - the unit has Type=notify, WatchdogSec, Restart=on-failure, LimitRTPRIO, LimitMEMLOCK, DynamicUser, audio group"
    else
        echo "not ok 3 - the unit lacks:$missing"; fail=1
    fi
}
if ! command -v systemd-analyze >/dev/null; then
    echo "ok 1 # SKIP systemd-analyze not installed"
    echo "ok 2 # SKIP systemd-analyze not installed"
    report_lines
    exit ${fail:-0}
fi
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
# point ExecStart at the binary just built (verify checks that it exists)
sed -e "s|^ExecStart=.*|ExecStart=$daemon --config $conf|" "$unit" >"$dir/phasorsyncd.service"
if out=$(systemd-analyze verify "$dir/phasorsyncd.service" 2>&1); then
    echo "ok 1 - systemd-analyze verify"
else
    echo "not ok 1 - systemd-analyze verify"; printf '%s\n' "$out" | sed 's/^/# /'; fail=1
fi
level=$(systemd-analyze security --offline=true "$dir/phasorsyncd.service" 2>/dev/null |
        sed -n 's/.*Overall exposure level for phasorsyncd.service: \([0-9.]*\).*/\1/p')
if [ -n "$level" ] && awk -v l="$level" 'BEGIN{exit !(l < 2.0)}'; then
    echo "ok 2 - security exposure $level < 2.0"
else
    echo "not ok 2 - security exposure '${level:-unknown}' (want < 2.0)"; fail=1
fi
report_lines
exit ${fail:-0}
