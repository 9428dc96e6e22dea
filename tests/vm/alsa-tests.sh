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
exec 3>&1 # the TAP stream: checks run with their output going to $LOG
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
start_aseqdump() { # start_aseqdump OUTFILE [PORT]: sets ADUMP (pid) once it listens
    local out=$1; shift
    if [ $# -gt 0 ]; then stdbuf -oL aseqdump -p "$*" >"$out" 2>&1 &
    else stdbuf -oL aseqdump >"$out" 2>&1 & fi
    ADUMP=$!
    wait_for 20 grep -q 'Waiting for data' "$out" || { stop $ADUMP; return 1; }
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

send_test() { # send_test NAME "ASEQDUMP ARGS" PROBE ARGS...: all we send arrives, in order
    local d=$W/dump.$1 o=$W/send.$1 c rc
    shift
    if [ -n "$1" ]; then start_aseqdump "$d" "$1" || return 1
    else start_aseqdump "$d" || return 1; fi
    shift
    "$P" "$@" >"$o" 2>&1
    rc=$?
    sleep 0.3
    stop $ADUMP
    cat "$o" >>"$LOG"
    # the sending client: the first event source that is not System (0:x)
    c=$(awk '$1 ~ /^[0-9]+:[0-9]+$/ && $1 !~ /^0:/ { split($1, a, ":"); print a[1]; exit }' "$d")
    dump_of "$d" "$c" >"$d.events"
    diff -u "$W/expect_send" "$d.events" >>"$LOG" && [ $rc = 0 ]
}
check "alsa direct output (lookahead 0): aseqdump sees every message type, in order" \
    send_test direct "" --lookahead-ms 0 --client PS-direct send --connect aseqdump --count 4 --period-ms 20
check "alsa scheduled output (lookahead 20 ms): aseqdump sees every message type, in order" \
    send_test sched "" --lookahead-ms 20 --client PS-sched send --connect aseqdump --count 4 --period-ms 20
check "rawmidi output: bytes into virmidi hw:VirMIDI,0, aseqdump on its sequencer port sees every message" \
    send_test raw "Virtual Raw MIDI 0-0:0" --backend rawmidi send --connect hw:VirMIDI,0 --count 4 --period-ms 20
check "auto picks the ALSA sequencer where /dev/snd/seq exists, without a warning" \
    bash -c "'$P' --backend auto unconnected | tee /dev/stderr | grep -qx 'backend alsa' && ! '$P' --backend auto unconnected | grep -q '^warning'"

# ------------------------------------------------------------ input
# The test file's note-ons are 250 ms apart: their arrival stamps must say
# so.  The median of the 3 intervals within 5 ms; each within 100 ms, because
# under TCG on a busy host the whole guest sometimes stalls for tens of ms,
# which moves one event (one interval longer, the next shorter by as much).
spacing_ok() {
    awk '/^rx / && / note-on / && !/d=[0-9]+,0$/ { sub("t_ns=", "", $2); t[n++] = $2 }
         END { if (n != 4) { print "note-ons:", n; exit 1 }
               for (i = 1; i < n; i++) { d[i] = (t[i] - t[i-1]) / 1e6; printf "interval %.2f ms\n", d[i]
                                         if (d[i] < 150 || d[i] > 350) bad = 1 }
               a = d[1]; b = d[2]; c = d[3]
               m = (a > b) ? ((b > c) ? b : ((a > c) ? c : a)) : ((a > c) ? a : ((b > c) ? c : b))
               printf "median %.2f ms\n", m
               exit bad || m < 245 || m > 255 }' "$1" >>"$LOG"
}
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
    spacing_ok "$o" && [ $rc = 0 ]
}
check "alsa input: aplaymidi plays an SMF into our port (by client name); decoded, stamps 250 ms apart" recv_smf_test

SYX=$(for i in $(seq 0 299); do printf '%02X ' $((i % 128)); done)
recv_virmidi_test() {
    local o=$W/recv_vm
    "$P" recv --connect "Virtual Raw MIDI 0-0" --count 14 --timeout-ms 20000 >"$o" 2>&1 &
    local pid=$!
    wait_for 20 grep -q '^ready' "$o" || { stop $pid; cat "$o" >>"$LOG"; return 1; }
    grep -q '^notify connected port=0 peer=Virtual Raw MIDI 0-0:VirMIDI 0-0' "$o" || {
        stop $pid; cat "$o" >>"$LOG"; return 1; }
    # running status (3E 40), a real-time byte, every other type, a 301-byte SysEx
    amidi -p hw:0,0 -S "90 3C 7F 3E 40 B3 07 64 F8 A1 3C 10 D2 20 F2 10 02 F1 23 F3 05 F6 FE FF \
F0 7D $SYX F7" >>"$LOG" 2>&1
    wait $pid
    local rc=$?
    cat "$o" >>"$LOG"
    printf '%s\n' "note-on ch=0 d=60,127" "note-on ch=0 d=62,64" "cc ch=3 d=7,100" "clock ch=0 d=0,0" \
        "poly-pressure ch=1 d=60,16" "channel-pressure ch=2 d=32,0" "song-position ch=0 d=16,2" \
        "mtc ch=0 d=35,0" "song-select ch=0 d=5,0" "tune-request ch=0 d=0,0" \
        "active-sensing ch=0 d=0,0" "reset ch=0 d=0,0" >"$W/expect_vm"
    sed -n 's/^rx t_ns=[0-9]* port=0 //p' "$o" | head -n 12 | diff -u "$W/expect_vm" - >>"$LOG" ||
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
check "alsa input: amidi bytes into virmidi (auto-connected by name): every type, running status, 301-byte SysEx" \
    recv_virmidi_test

recv_raw_test() { # aplaymidi -> virmidi sequencer port -> rawmidi bytes -> our parser
    local o=$W/recv_raw
    "$P" --backend rawmidi recv --connect hw:VirMIDI,1 --count 12 --timeout-ms 20000 >"$o" 2>&1 &
    local pid=$!
    wait_for 20 grep -q '^ready' "$o" || { stop $pid; cat "$o" >>"$LOG"; return 1; }
    aplaymidi -d 0 -p "Virtual Raw MIDI 0-1:0" "$W/t.mid" >>"$LOG" 2>&1 || note "aplaymidi failed"
    wait $pid
    local rc=$?
    cat "$o" >>"$LOG"
    sed -n 's/^rx t_ns=[0-9]* port=0 //p' "$o" | diff -u "$W/expect_smf" - >>"$LOG" || return 1
    spacing_ok "$o" && [ $rc = 0 ]
}
check "rawmidi input: aplaymidi into virmidi, bytes parsed by us, stamps 250 ms apart" recv_raw_test

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

# One unplug (sysfs unbind of the virmidi card, what a USB unplug does) and
# replug for three of our ports at once: an ALSA sequencer output bound by
# name, a rawmidi output and a rawmidi input.
UNBIND=/sys/bus/platform/drivers/snd_virmidi
V=$W/follow_vm
RO=$W/follow_raw
RI=$W/recv_raw_unplug
"$P" follow --connect "VirMIDI 0-1" --duration-ms 60000 --period-ms 20 >"$V" 2>&1 &
FOLLOW=$!
"$P" --backend rawmidi follow --connect hw:VirMIDI,2 --duration-ms 60000 --period-ms 20 >"$RO" 2>&1 &
FOLLOW_RAW=$!
"$P" --backend rawmidi recv --connect hw:VirMIDI,3 --count 12 --timeout-ms 60000 >"$RI" 2>&1 &
RECV_RAW=$!
wait_for 20 grep -q '^notify connected port=0 peer=Virtual Raw MIDI 0-1' "$V"
wait_for 20 grep -q '^notify connected port=0 peer=hw:VirMIDI,2' "$RO"
wait_for 20 grep -q '^ready' "$RI"
unplugged=0
if echo snd_virmidi.0 >$UNBIND/unbind 2>>"$LOG"; then
    unplugged=1
    wait_for 20 grep -q '^notify disconnected port=0 peer=Virtual Raw MIDI 0-1' "$V"
    wait_for 20 grep -q '^notify disconnected port=0 peer=hw:VirMIDI,2' "$RO"
    wait_for 20 grep -q '^notify disconnected port=0 peer=hw:VirMIDI,3' "$RI"
    echo snd_virmidi.0 >$UNBIND/bind 2>>"$LOG" || unplugged=0
fi
unplug_alsa_test() {
    [ $unplugged = 1 ] || return 1
    grep -q '^notify disconnected port=0 peer=Virtual Raw MIDI 0-1' "$V" || return 1
    wait_for 20 at_least "$V" '^notify connected port=0 peer=Virtual Raw MIDI 0-1' 2 || return 1
    # and the notes flow again, out of the new card's rawmidi device
    timeout 3 amidi -p hw:VirMIDI,1 -d >"$W/raw_after" 2>&1
    head -c 300 "$W/raw_after" >>"$LOG"
    grep -q '2A5A' "$W/raw_after"
}
check "alsa: virmidi card unplugged (sysfs unbind) and replugged -> reconnected by name, notes flow" \
    unplug_alsa_test
unplug_rawout_test() {
    [ $unplugged = 1 ] || return 1
    grep -q '^notify disconnected port=0 peer=hw:VirMIDI,2' "$RO" || return 1
    wait_for 20 at_least "$RO" '^notify connected port=0 peer=hw:VirMIDI,2' 2 || return 1
    start_aseqdump "$W/a_raw" "Virtual Raw MIDI 0-2:0" || return 1
    wait_for 20 at_least "$W/a_raw" 'Note on *9, note 42, velocity 90' 5
    local rc=$?
    stop $ADUMP
    return $rc
}
check "rawmidi output: device unplugged and replugged -> reopened by service(), notes flow" \
    unplug_rawout_test
unplug_rawin_test() {
    [ $unplugged = 1 ] || return 1
    grep -q '^notify disconnected port=0 peer=hw:VirMIDI,3' "$RI" || return 1
    wait_for 20 at_least "$RI" '^notify connected port=0 peer=hw:VirMIDI,3' 2 || return 1
    aplaymidi -d 0 -p "Virtual Raw MIDI 0-3:0" "$W/t.mid" >>"$LOG" 2>&1
    wait_for 20 grep -q '^received 12' "$RI"
}
check "rawmidi input: device unplugged and replugged -> reopened, input parsed again" \
    unplug_rawin_test
stop $FOLLOW $FOLLOW_RAW $RECV_RAW
for f in "$V" "$RO" "$RI"; do grep -E '^(notify|follow|received|senderr|error)' "$f"; done >>"$LOG"
check "no send error but 'not connected' on any of them across the unplug" \
    bash -c "grep -q '^follow sent=[1-9][0-9]* notconn=[1-9][0-9]* errors=0' '$V' &&
             grep -q '^follow sent=[1-9][0-9]* notconn=[1-9][0-9]* errors=0' '$RO'"

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
    local conn="Midi Through"
    case " $* " in *" --backend rawmidi "*) conn=hw:VirMIDI,0 ;; esac
    "$P" "$@" jitter --connect "$conn" --count 500 --period-ms 4 >"$o" 2>&1
    local rc=$?
    cat "$o" >>"$LOG"
    sed -n 's/^jitter /# jitter /p' "$o" >&3 # the figures, as TAP comments
    [ $rc = 0 ] || return 1
    # never early: scheduled events leave on the first queue tick at/after due
    awk '/^jitter / { for (i = 1; i <= NF; i++) if ($i ~ /^min=/) { sub("min=", "", $i)
                      exit ($i < -100) } }' "$o"
}
check "timing: direct output, 500 clocks through Midi Through, none lost" jitter_test direct --lookahead-ms 0
check "timing: scheduled (hrtimer queue), 500 clocks, none lost, none early" jitter_test sched --lookahead-ms 10
check "timing: scheduled (system-timer queue), 500 clocks, none lost, none early" \
    jitter_test systimer --lookahead-ms 10 --system-timer

# rawmidi round trip: our bytes into virmidi 0-0, its sequencer port wired
# to virmidi 0-1's, read back from 0-1 with the kernel's arrival stamps
if aconnect "Virtual Raw MIDI 0-0:0" "Virtual Raw MIDI 0-1:0" >>"$LOG" 2>&1; then
    check "timing: rawmidi direct output, 500 clocks through two virmidi devices, none lost" \
        jitter_test raw --backend rawmidi --in hw:VirMIDI,1
    aconnect -d "Virtual Raw MIDI 0-0:0" "Virtual Raw MIDI 0-1:0"
else
    result FAIL "timing: rawmidi direct output (aconnect of the two virmidi ports failed)"
fi

echo "1..$N"
rm -rf "$W"
[ $FAILED = 0 ]
