#!/usr/bin/env bash
# The systemd unit: `systemd-analyze verify` passes and the offline security
# exposure is under 2.0.  TAP output; skips where systemd-analyze is absent.
# usage: test_unit_file.sh BUILT_UNIT PHASORSYNCD CONFIG
set -u
unit=$(realpath "$1") daemon=$(realpath "$2") conf=$(realpath "$3")
if ! command -v systemd-analyze >/dev/null; then
    echo "1..0 # SKIP systemd-analyze not installed"; exit 0
fi
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
# point ExecStart at the binary just built (verify checks that it exists)
sed -e "s|^ExecStart=.*|ExecStart=$daemon --config $conf|" "$unit" >"$dir/phasorsyncd.service"
echo "1..2"
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
exit ${fail:-0}
