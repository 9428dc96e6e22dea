#!/usr/bin/env python3
"""The dump backend's records against the `phasorctl decode` schema.

midi_probe (the backends through their ops, engine-like loop) sends its
fixed message set and N notes through the dump backend chosen by
`midi.backend = auto` on a machine without a sequencer (seq device pointed
at a path that does not exist).  Checks: the one warning line; every record
is one JSON object whose first members are "port", "due_ns", "t_ns"
(integers; t_ns CLOCK_MONOTONIC at send, never before due since the probe
sends at due - lookahead with lookahead 0), and whose remaining members are
exactly the record `phasorctl decode` prints for the same message's bytes.
Output: TAP.

usage: test_dump_schema.py MIDI_PROBE PHASORCTL
In a cross build meson puts its exe_wrapper (qemu) in $MESON_EXE_WRAPPER;
both programs then run through it.
"""
import json
import os
import shlex
import subprocess
import sys
import tempfile

WRAP = shlex.split(os.environ.get("MESON_EXE_WRAPPER", ""))
PROBE, PHASORCTL = [*WRAP, sys.argv[1]], [*WRAP, sys.argv[2]]
results = []


def check(name, ok, detail=""):
    results.append((name, bool(ok), detail))


# the bytes of what `midi_probe send --count 3` sends (see mode_send there)
SENT = (bytes([0xC2, 5, 0xB1, 7, 99, 0xE3, 0x00, 0x50, 0xD4, 33, 0xA5, 61, 44,
               0xF2, 0x10, 0x02, 0xFA, 0xF8, 0xFC, 0xFB, 0xF0, 0x7D, 1, 2, 3, 0xF7])
        + b"".join(bytes([0x90, 60 + i, 100, 0x80, 60 + i, 0]) for i in range(3)))

with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "dump.jsonl")
    p = subprocess.run([*PROBE, "--backend", "auto", "--seq-device", os.path.join(tmp, "no-seq"),
                        "--dump-file", out, "send", "--count", "3", "--period-ms", "2"],
                       capture_output=True, text=True, timeout=60)
    warnings = [l for l in p.stdout.splitlines() if l.startswith("warning ")]
    check("auto without a sequencer falls back to dump with exactly one warning line",
          p.returncode == 0 and len(warnings) == 1 and "dump backend" in warnings[0]
          and "no ALSA sequencer" in warnings[0], p.stdout + p.stderr)
    check("the probe reports the dump backend", "backend dump" in p.stdout.splitlines(), p.stdout)
    lines = open(out).read().splitlines() if os.path.exists(out) else []

d = subprocess.run([*PHASORCTL, "decode"], input=SENT, capture_output=True, timeout=60)
ref = d.stdout.decode().splitlines()
check("phasorctl decode of the same bytes gives 17 records", d.returncode == 0 and len(ref) == 17,
      d.stdout.decode() + d.stderr.decode())
check("the dump wrote one line per sent event", len(lines) == len(ref), "\n".join(lines))

bad = []
for i, line in enumerate(lines):
    try:
        rec = json.loads(line)
    except ValueError as e:
        bad.append(f"line {i}: not JSON: {e}: {line}")
        continue
    keys = list(rec)
    if keys[:3] != ["port", "due_ns", "t_ns"]:
        bad.append(f"line {i}: first members {keys[:3]}")
        continue
    if not all(isinstance(rec[k], int) for k in keys[:3]) or rec["port"] != 0:
        bad.append(f"line {i}: port/due_ns/t_ns not integers or port != 0: {line}")
    if not 0 <= rec["t_ns"] - rec["due_ns"] < 1_000_000_000:
        bad.append(f"line {i}: t_ns - due_ns = {rec['t_ns'] - rec['due_ns']}")
    rest = json.dumps({k: rec[k] for k in keys[3:]}, separators=(",", ":"))
    if i < len(ref) and rest != ref[i]:
        bad.append(f"line {i}: {rest} != decode {ref[i]}")
    # the record text itself, not only its parse: members after t_ns verbatim
    if i < len(ref) and not line.endswith("," + ref[i][1:]):
        bad.append(f"line {i}: text differs from decode's: {line}")
check("every record = port, due_ns, t_ns + exactly the decode record of its message",
      not bad and lines, "\n".join(bad))
dues = [json.loads(l)["due_ns"] for l in lines]
check("records are in send order (due_ns non-decreasing)", dues == sorted(dues), str(dues))

print(f"1..{len(results)}")
for i, (name, ok, detail) in enumerate(results, 1):
    print(f"{'ok' if ok else 'not ok'} {i} - {name}")
    if not ok:
        for l in detail.splitlines()[:30]:
            print("# " + l)
sys.exit(0 if all(r[1] for r in results) else 1)
