#!/usr/bin/env python3
"""gen_smf.py OUT.mid - writes the Standard MIDI File the VM tests play with
aplaymidi: format 0, 96 ticks per quarter, 120 BPM (one tick = 5208.3 us).

Events (tick: message), so the receiver can check data and spacing:
    0: program change ch 1 -> 7
    0: note on  ch 0 note 60 vel 100      24: note off (as note on vel 0)
   24: control change ch 0 cc 74 = 33
   48: note on  ch 0 note 62 vel 101      72: note off ch 0 note 62 vel 64
   72: pitch bend ch 2 = 0x2000 + 0x123
   96: sysex F0 7D 01 02 03 F7
   96: note on  ch 0 note 64 vel 102     120: note on vel 0
  144: note on  ch 0 note 67 vel 103     168: note on vel 0
The note-ons are 48 ticks = 250 ms apart.
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


EVENTS = [
    (0, bytes([0xC1, 7])),
    (0, bytes([0x90, 60, 100])),
    (24, bytes([0x90, 60, 0])),
    (24, bytes([0xB0, 74, 33])),
    (48, bytes([0x90, 62, 101])),
    (72, bytes([0x80, 62, 64])),
    (72, bytes([0xE2, 0x23, 0x42])),  # 0x2123 = 8192 + 291
    (96, bytes([0xF0]) + vlq(5) + bytes([0x7D, 1, 2, 3, 0xF7])),
    (96, bytes([0x90, 64, 102])),
    (120, bytes([0x90, 64, 0])),
    (144, bytes([0x90, 67, 103])),
    (168, bytes([0x90, 67, 0])),
]

track = bytearray()
track += vlq(0) + bytes([0xFF, 0x51, 3]) + (500000).to_bytes(3, "big")  # 120 BPM
last = 0
for tick, data in EVENTS:
    track += vlq(tick - last) + data
    last = tick
track += vlq(0) + bytes([0xFF, 0x2F, 0])
with open(sys.argv[1], "wb") as f:
    f.write(b"MThd" + struct.pack(">IHHH", 6, 0, 1, 96))
    f.write(b"MTrk" + struct.pack(">I", len(track)) + track)
