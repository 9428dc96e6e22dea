#!/usr/bin/env bash
# alsa-tests.sh BUILD_DIR - the ALSA integration checks, run INSIDE the test
# VM (tests/vm/run.sh boots it once for all of them).  Prints TAP.
#
# Our side is BUILD_DIR/tests/vm/midi_probe (the backends through their ops
# table); the other side is always a real client nobody here wrote:
# aseqdump, aplaymidi, amidi, aconnect, and the kernel's own virmidi and
# Midi Through clients.  Waits are for conditions (with generous limits:
# TCG is slow), never fixed sleeps that a slow machine could outrun.
set -u
BUILD=$(cd "$1" && pwd)
P=$BUILD/tests/vm/midi_probe
HERE=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d)
N=0
FAILED=0

# ------------------------------------------------------------ TAP helpers
LOG=$W/log
: >"$LOG"
note() { echo "$*" >>"$LOG"; }
result() { # result OK|FAIL "description": one TAP line; the log on failure
    N=$((N + 1))
    if [ "$1" = OK ]; then
        echo "ok $N - $2"
    else
        FAILED=$((FAILED + 1))
        echo "not ok $N - $2"
        tail -n 60 "$LOG" | awk '{ print "# " $0 }'
    fi
    : >"$LOG"
}
check() { # check "description" COMMAND...: ok when COMMAND succeeds
    local d=$1; shift
    if "$@" >>"$LOG" 2>&1; then result OK "$d"; else result FAIL "$d"; fi
}
wait_for() { # wait_for SECONDS COMMAND...: until COMMAND succeeds
    local end=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -ge $end ] && { note "timed out waiting for: $*"; return 1; }
        sleep 0.1
    done
}
count() { grep -c -- "$2" "$1" 2>/dev/null || true; }
at_least() { [ "$(count "$1" "$2")" -ge "$3" ]; } # at_least FILE REGEX N
dump_of() { # the events aseqdump saw from client $2, "Event  Ch  Data" normalised
    awk -v src="$2" '$1 ~ "^"src":" { $1 = ""; sub(/^ +/, ""); gsub(/ +/, " "); print }' "$1"
}
client_of() { # client number of the client named $1 in aconnect -l
    aconnect -l | sed -n "s/^client \([0-9]*\): '$1'.*/\1/p" | head -n 1
}
start_aseqdump() { # start_aseqdump OUTFILE: sets ADUMP (pid) once it listens
    stdbuf -oL aseqdump >"$1" 2>&1 &
    ADUMP=$!
    wait_for 20 grep -q 'Waiting for data' "$1" || { stop $ADUMP; return 1; }
}
stop() { kill "$@" 2>/dev/null; wait "$@" 2>/dev/null; true; }

# ------------------------------------------------------------ environment
[ -x "$P" ] || { echo "1..0 # SKIP $P not built"; exit 0; }
check "sequencer and virmidi devices exist in the guest" \
    test -c /dev/snd/seq -a -c /dev/snd/midiC0D0
note "$(cat /proc/asound/timers 2>&1 | head -n 3)"
check "the kernel offers the high-resolution timer to queues" grep -q 'HR timer' /proc/asound/timers

# The messages `midi_probe send` sends, as aseqdump prints them.
cat >"$W/expect_send" <<'EOF'
Program change 2, program 5
Control change 1, controller 7, value 99
Pitch bend 3, value 2048
Channel aftertouch 4, value 33
Polyphonic aftertouch 5, note 61, value 44
Song position pointer value 272
Start
Clock
Stop
Continue
System exclusive F0 7D 01 02 03 F7
Note on 0, note 60, velocity 100
Note off 0, note 60, velocity 0
Note on 0, note 61, velocity 100
Note off 0, note 61, velocity 0
Note on 0, note 62, velocity 100
Note off 0, note 62, velocity 0
Note on 0, note 63, velocity 100
Note off 0, note 63, velocity 0
EOF

send_test() { # send_test LOOKAHEAD_MS: everything we send arrives at aseqdump, in order
    local d=$W/dump.$1 o=$W/send.$1 c
    start_aseqdump "$d" || return 1
    "$P" --lookahead-ms "$1" --client "PS-send-$1" send --connect aseqdump --count 4 \
        --period-ms 20 >"$o" 2>&1
    local rc=$?
    sleep 0.3
    stop $ADUMP
    cat "$o" >>"$LOG"
    c=$(sed -n 's/.*Port subscribed *\([0-9]*\):.*/\1/p' "$d" | head -n 1)
    dump_of "$d" "$c" >"$W/got.$1"
    diff -u "$W/expect_send" "$W/got.$1" >>"$LOG" && [ $rc = 0 ]
}
check "alsa direct output (lookahead 0): aseqdump sees every message type, in order" send_test 0
check "alsa scheduled output (lookahead 20 ms): aseqdump sees every message type, in order" send_test 20

# ------------------------------------------------------------ input
python3 "$HERE/gen_smf.py" "$W/t.mid"
cat >"$W/expect_smf" <<'EOF'
program ch=1 d=7,0
note-on ch=0 d=60,100
note-on ch=0 d=60,0
cc ch=0 d=74,33
note-on ch=0 d=62,101
note-off ch=0 d=62,64
pitch-bend ch=2 d=35,66
sysex ch=0 d=0,0 flags=SE bytes=7D010203
note-on ch=0 d=64,102
note-on ch=0 d=64,0
note-on ch=0 d=67,103
note-on ch=0 d=67,0
EOF
recv_smf_test() {
    local o=$W/recv_smf
    "$P" recv --count 12 --timeout-ms 20000 >"$o" 2>&1 &
    local pid=$!
    wait_for 20 grep -q '^ready' "$o" || { stop $pid; cat "$o" >>"$LOG"; return 1; }
    aplaymidi -d 0 -p PhasorSync:0 "$W/t.mid" >>"$LOG" 2>&1 || note "aplaymidi failed"
    wait $pid
    local rc=$?
    cat "$o" >>"$LOG"
    sed -n 's/^rx t_ns=[0-9]* port=0 //p' "$o" | diff -u "$W/expect_smf" - >>"$LOG" || return 1
    # the note-ons are 250 ms apart in the file: the arrival stamps must say so
    awk '/^rx / && / note-on / && !/d=[0-9]+,0$/ { sub("t_ns=", "", $2); t[n++] = $2 }
         END { if (n != 4) { print "note-ons:", n; exit 1 }
               for (i = 1; i < n; i++) { d = (t[i] - t[i-1]) / 1e6; printf "interval %.2f ms\n", d
                                         if (d < 230 || d > 270) bad = 1 }
               exit bad }' "$o" >>"$LOG" && [ $rc = 0 ]
}
check "alsa input: aplaymidi plays an SMF into our port (by client name); decoded, stamps 250 ms apart" recv_smf_test

SYX=$(for i in $(seq 0 299); do printf '%02X ' $((i % 128)); done)
recv_virmidi_test() {
    local o=$W/recv_vm
    "$P" recv --connect "Virtual Raw MIDI 0-0" --count 6 --timeout-ms 20000 >"$o" 2>&1 &
    local pid=$!
    wait_for 20 grep -q '^ready' "$o" || { stop $pid; cat "$o" >>"$LOG"; return 1; }
    grep -q '^notify connected port=0 peer=Virtual Raw MIDI 0-0:VirMIDI 0-0' "$o" || {
        stop $pid; cat "$o" >>"$LOG"; return 1; }
    # running status (3E 40), a real-time byte, a 301-byte SysEx
    amidi -p hw:0,0 -S "90 3C 7F 3E 40 B3 07 64 F8 F0 7D $SYX F7" >>"$LOG" 2>&1
    wait $pid
    local rc=$?
    cat "$o" >>"$LOG"
    printf '%s\n' "note-on ch=0 d=60,127" "note-on ch=0 d=62,64" "cc ch=3 d=7,100" "clock ch=0 d=0,0" \
        >"$W/expect_vm"
    sed -n 's/^rx t_ns=[0-9]* port=0 //p' "$o" | head -n 4 | diff -u "$W/expect_vm" - >>"$LOG" ||
        return 1
    # the SysEx arrives in 256-byte chunks: first flagged start, last flagged end
    local want got
    want="7D$(echo "$SYX" | tr -d ' ')"
    got=$(sed -n 's/^rx .* sysex .* bytes=//p' "$o" | tr -d '\n')
    [ "$got" = "$want" ] || { note "sysex payload differs"; return 1; }
    sed -n 's/^rx .* sysex .* flags=\([A-Z]*\) .*/\1/p' "$o" | tr '\n' ' ' | grep -qx 'SC E ' ||
        { note "sysex chunk flags wrong"; return 1; }
    awk '/^rx / { sub("t_ns=", "", $2); if ($2 < last) exit 1; last = $2 }' "$o" && [ $rc = 0 ]
}
check "alsa input: amidi bytes into virmidi (auto-connected by name) decoded, running status, 301-byte SysEx" \
    recv_virmidi_test

# ------------------------------------------------------------ visibility, reconnection
F=$W/follow
"$P" follow --connect aseqdump --duration-ms 60000 --period-ms 20 >"$F" 2>&1 &
FOLLOW=$!
wait_for 20 grep -q '^ready' "$F"
start_aseqdump "$W/a1"
A1=$ADUMP
wait_for 20 grep -q '^notify connected port=0 peer=aseqdump:aseqdump' "$F"
DUMPC=$(client_of aseqdump)
aconnect -l >"$W/aconnect" 2>&1
visible_test() {
    cat "$W/aconnect" >>"$LOG"
    awk -v c="$DUMPC" '/^client [0-9]+: .PhasorSync. \[type=user/ { ours = 1; next }
                       /^client / { ours = 0 }
                       ours && /^ +[0-9]+ .out / { port = 1 }
                       ours && port && $0 ~ "Connecting To: " c ":0" { ok = 1 }
                       END { exit !ok }' "$W/aconnect"
}
check "alsa: client PhasorSync, its port 'out' and our connection to aseqdump are listed by aconnect -l" \
    visible_test
check "alsa: the first aseqdump receives our notes" \
    wait_for 20 at_least "$W/a1" 'Note on *9, note 42, velocity 90' 5
stop $A1
check "alsa: aseqdump killed -> disconnection reported by service()" \
    wait_for 20 grep -q '^notify disconnected port=0 peer=aseqdump:aseqdump' "$F"
start_aseqdump "$W/a2"
A2=$ADUMP
check "alsa: aseqdump restarted -> reconnected by name through System:Announce" \
    wait_for 20 at_least "$F" '^notify connected port=0 peer=aseqdump:aseqdump' 2
check "alsa: the restarted aseqdump receives our notes" \
    wait_for 20 at_least "$W/a2" 'Note on *9, note 42, velocity 90' 5
stop $A2
stop $FOLLOW # SIGTERM: the probe prints its summary and exits
cat "$F" >>"$LOG"
check "alsa: no send error other than 'not connected' while the peer was away" \
    grep -q '^follow sent=[1-9][0-9]* notconn=[0-9]* errors=0' "$F"

UNBIND=/sys/bus/platform/drivers/snd_virmidi
V=$W/follow_vm
"$P" follow --connect "VirMIDI 0-1" --duration-ms 60000 --period-ms 20 >"$V" 2>&1 &
FOLLOW=$!
wait_for 20 grep -q '^notify connected port=0 peer=Virtual Raw MIDI 0-1' "$V"
unplug_test() {
    echo snd_virmidi.0 >$UNBIND/unbind || return 1
    wait_for 20 grep -q '^notify disconnected port=0 peer=Virtual Raw MIDI 0-1' "$V" || return 1
    echo snd_virmidi.0 >$UNBIND/bind || return 1
    wait_for 20 at_least "$V" '^notify connected port=0 peer=Virtual Raw MIDI 0-1' 2 || return 1
    # and the data flows again: the notes come out of the new card's rawmidi
    timeout 3 amidi -p hw:0,1 -d >"$W/raw_after" 2>&1
    cat "$W/raw_after" >>"$LOG"
    grep -q '2A5A' "$W/raw_after"
}
check "alsa: virmidi card unplugged (sysfs unbind) and replugged -> reconnected by name, notes flow" \
    unplug_test
stop $FOLLOW
cat "$V" >>"$LOG"
: >"$LOG"

# ------------------------------------------------------------ drop, errors
drop_test() {
    start_aseqdump "$W/drop" || return 1
    "$P" --lookahead-ms 20 drop --connect aseqdump >>"$LOG" 2>&1
    local rc=$?
    sleep 0.3
    stop $ADUMP
    cat "$W/drop" >>"$LOG"
    [ $rc = 0 ] && grep -q 'Control change *0, controller 119, value 1' "$W/drop" &&
        ! grep -q 'Note on' "$W/drop"
}
check "alsa: drop_pending removes queued events of a port; later ones still go out" drop_test

errors_test() {
    "$P" unconnected >"$W/unc" 2>&1
    cat "$W/unc" >>"$LOG"
    grep -qx 'unconnected send=-107' "$W/unc" && grep -qx 'badport send=-22' "$W/unc" &&
        grep -qx 'inport send=-22' "$W/unc"
}
check "alsa: send without a peer is -ENOTCONN; bad or input port is -EINVAL" errors_test

# ------------------------------------------------------------ timing
# arrival - due, stamped by the kernel on our input port after a round trip
# through Midi Through; TCG makes the absolute figures only indicative
jitter_test() { # jitter_test NAME ARGS...
    local o=$W/jitter.$1; shift
    "$P" "$@" jitter --connect "Midi Through" --count 500 --period-ms 4 >"$o" 2>&1
    local rc=$?
    cat "$o" >>"$LOG"
    sed -n 's/^jitter /# jitter /p' "$o"
    [ $rc = 0 ] || return 1
    # never early: scheduled events leave on the first queue tick at/after due
    awk '/^jitter / { for (i = 1; i <= NF; i++) if ($i ~ /^min=/) { sub("min=", "", $i)
                      exit ($i < -100) } }' "$o"
}
check "timing: direct output, 500 clocks through Midi Through, none lost" jitter_test direct --lookahead-ms 0
check "timing: scheduled (hrtimer queue), 500 clocks, none lost, none early" jitter_test sched --lookahead-ms 10
check "timing: scheduled (system-timer queue), 500 clocks, none lost, none early" \
    jitter_test systimer --lookahead-ms 10 --system-timer

echo "1..$N"
rm -rf "$W"
[ $FAILED = 0 ]
