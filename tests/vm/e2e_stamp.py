#!/usr/bin/env python3
"""e2e_stamp.py [DEVICE] - stamp what a receiver sees with its arrival time,
one "T_NS TEXT" line each (flushed), for tests/vm/e2e.sh.  The clock is
CLOCK_REALTIME, the one bash's $EPOCHREALTIME reads, so the script can pick
measurement windows; nothing steps it in the test VM (no NTP, no network).

Without DEVICE: stamps every line of standard input (aseqdump's output,
line-buffered).  With DEVICE (a rawmidi node, /dev/snd/midiCxDy): reads the
raw bytes and writes one line per status byte, named like aseqdump names
them (Clock, Start, Stop, Continue), other status bytes in hex; data bytes
are skipped.  Rates are then computed from the stamps, so they do not
depend on when the reader started or was stopped.
"""
import os
import select
import sys
import time

NAMES = {0xF8: "Clock", 0xFA: "Start", 0xFB: "Continue", 0xFC: "Stop"}
out = sys.stdout

if len(sys.argv) > 1:
    fd = os.open(sys.argv[1], os.O_RDONLY)
    # Polling starts the input stream: until then the card drops what its
    # port receives (virmidi), so "reading" must not be said before it.
    p = select.poll()
    p.register(fd, select.POLLIN)
    p.poll(0)
    out.write("%d # reading %s\n" % (time.time_ns(), sys.argv[1]))
    out.flush()
    while True:
        data = os.read(fd, 256)
        if not data:
            break
        t = time.time_ns()
        for b in data:
            if b & 0x80:
                out.write("%d %s\n" % (t, NAMES.get(b, "%02X" % b)))
        out.flush()
else:
    for line in iter(sys.stdin.buffer.readline, b""):
        out.write("%d %s\n" % (time.time_ns(), line.decode(errors="replace").rstrip("\n")))
        out.flush()
