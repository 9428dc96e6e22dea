#!/usr/bin/env bash
# tests/vm/audio_loopback.sh - the ALSA audio backend against a real kernel:
# play sync pulses and a click into snd-aloop (hw:Loopback,0,0) while arecord
# captures the other side (hw:Loopback,1,0), then check the capture for
# pulses at the right rate.
#
#   tests/vm/audio_loopback.sh AUDIO_PLAY AUDIO_PULSECHECK
#
# On the host it re-runs itself inside the test VM (tests/vm/vm-run.sh);
# exit 77 (skipped) when the VM cannot run here.  In the guest (PS_VM=1):
#   - 2 PPQN and 24 PPQN pulse channels and a click at 123.4 BPM, 3 channels,
#     s16, 48 kHz, 512-frame periods (the seed) x 8 (an emulated guest is
#     slow: with 3 periods it underruns), 8 s;
#   - audio_pulsecheck compares every interval with the ideal
#     (60 * 48000 / (123.4 * PPQN) frames, not a whole number, so a wrong
#     rate or a dropped period shows) and fails on a missing or extra pulse
#     (beyond two per xrun/resync the player reports: a stalled emulator is
#     heard as a gap), an interval off by more than 16 frames (1/3 ms), or a
#     mean rate off by more than 100 ppm.  Why not 2 frames: snd-aloop advances its pointer
#     once per jiffy (4 ms), and in a TCG guest that clock wanders against
#     CLOCK_MONOTONIC; the output-time loop follows it, which moves pulses by
#     a few frames over seconds (the checker prints the figures);
#   - then device loss: while audio_play runs, the loopback card is unbound
#     from its driver (the kernel disconnects the PCM, as when a USB
#     interface is unplugged) and bound again 2.5 s later; audio_play must
#     report exactly one loss and one re-open, and keep delivering periods.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
play=$1
check=$2

if [ "${PS_VM:-}" != 1 ]; then
    exec "$here/vm-run.sh" -- bash "$here/audio_loopback.sh" "$play" "$check"
fi

bpm=123.4
dir=$(mktemp -d)
grep -q Loopback /proc/asound/cards || { echo "snd-aloop is not loaded"; exit 1; }
# capture first: aloop then takes the capture's parameters for both sides
arecord -q -D hw:Loopback,1,0 -f S16_LE -r 48000 -c 3 -d 10 "$dir/cap.wav" &
rec=$!
sleep 0.5
"$play" hw:Loopback,0,0 8 "$bpm" 512 8 | tee "$dir/play.txt"
wait $rec
rc=0
# an xrun (the emulated guest stalled longer than the buffer) is heard as a
# gap; allow two disturbances per xrun or resync the player reported, no more
gaps=$(sed -n 's/.* xruns \([0-9]*\) resyncs \([0-9]*\) .*/\1 \2/p' "$dir/play.txt" |
       awk '{ print $1 + $2 }')
[ -n "$gaps" ] || { echo "audio_loopback: no statistics from audio_play"; exit 1; }
"$check" "$dir/cap.wav" 0 2 "$bpm" 16 20 100 "$gaps" || rc=1   # 2 PPQN: 4.1 pulses/s
"$check" "$dir/cap.wav" 1 24 "$bpm" 16 250 100 "$gaps" || rc=1 # 24 PPQN: 49.4 pulses/s
"$check" "$dir/cap.wav" 2 1 "$bpm" 16 10 100 "$gaps" || rc=1   # click on every beat

drv=/sys/bus/platform/drivers/snd_aloop
"$play" hw:Loopback,0,0 8 "$bpm" 512 8 >"$dir/loss.txt" 2>/dev/null &
pid=$!
sleep 2.5
echo snd_aloop.0 >"$drv/unbind"
echo "audio_loopback: card unbound"
sleep 2.5
echo snd_aloop.0 >"$drv/bind"
echo "audio_loopback: card bound again"
wait $pid || rc=1
cat "$dir/loss.txt"
grep -q " losses 1 reopens 1 " "$dir/loss.txt" || { echo "audio_loopback: FAIL: expected one loss and one re-open"; rc=1; }
exit $rc
