#!/usr/bin/env python3
"""gen_clock_smf.py OUT.mid BPM SECONDS - a Standard MIDI File carrying a
MIDI clock track, for the e2e follower check (tests/vm/e2e.sh).

Format 0, 24 ticks per quarter note, one tempo (FF 51) for BPM, so one tick
is one MIDI clock.  Events: Start at tick 0, then a Clock (0xF8) on every
tick 0 .. BPM/60*24*SECONDS - 1.

System real-time bytes cannot stand bare in an SMF track (aplaymidi rejects
them as "invalid MIDI data"), so each is an F7 escape event carrying the one
byte: F7 01 FA, F7 01 F8.  aplaymidi sends an escape as a SND_SEQ_EVENT_SYSEX
whose data is that byte; written to a virmidi port it leaves the card as the
raw byte, which is what a clock track on a MIDI cable is.
"""
import struct
import sys


def vlq(n):
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.insert(0, 0x80 | (n & 0x7F))
        n >>= 7
    return bytes(out)


out, bpm, secs = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
clocks = int(round(bpm / 60 * 24 * secs))
track = bytearray()
track += vlq(0) + bytes([0xFF, 0x51, 3]) + int(round(60e6 / bpm)).to_bytes(3, "big")
track += vlq(0) + bytes([0xF7, 1, 0xFA])
track += vlq(0) + bytes([0xF7, 1, 0xF8])
for _ in range(clocks - 1):
    track += vlq(1) + bytes([0xF7, 1, 0xF8])
track += vlq(1) + bytes([0xFF, 0x2F, 0])
with open(out, "wb") as f:
    f.write(b"MThd" + struct.pack(">IHHH", 6, 0, 1, 24))
    f.write(b"MTrk" + struct.pack(">I", len(track)) + track)
