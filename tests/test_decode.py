#!/usr/bin/env python3
"""`phasorctl decode` end to end: exact output lines for every record type,
the MIDI rules, a 100 kB SysEx and random garbage, compared with an
independent reference decoder written here in Python from the MIDI 1.0
rules; --count; stdin; errors.  Output: TAP.

usage: test_decode.py PHASORCTL
In a cross build meson puts its exe_wrapper (qemu) in $MESON_EXE_WRAPPER;
PHASORCTL then runs through it.
"""
import json
import os
import random
import shlex
import subprocess
import sys
import tempfile

PHASORCTL = [*shlex.split(os.environ.get("MESON_EXE_WRAPPER", "")), sys.argv[1]]
results = []


def check(name, ok, detail=""):
    results.append((name, ok, detail))


def decode(data, *args, stdin=True):
    """Runs decode on `data`; returns (rc, stdout lines, stderr)."""
    if stdin:
        p = subprocess.run([*PHASORCTL, "decode", *args], input=data, capture_output=True,
                           timeout=60)
    else:
        with tempfile.NamedTemporaryFile(delete=False) as f:
            f.write(data)
        try:
            p = subprocess.run([*PHASORCTL, "decode", *args, f.name], capture_output=True,
                               timeout=60)
        finally:
            os.unlink(f.name)
    return p.returncode, p.stdout.decode().splitlines(), p.stderr.decode()


# --- reference decoder -----------------------------------------------------
CHAN = {0x80: ("note-off", "note", "velocity"), 0x90: ("note-on", "note", "velocity"),
        0xA0: ("poly-pressure", "note", "pressure"),
        0xB0: ("control-change", "controller", "value"),
        0xC0: ("program-change", "program"), 0xD0: ("channel-pressure", "pressure")}
REALTIME = {0xF8: "clock", 0xFA: "start", 0xFB: "continue", 0xFC: "stop",
            0xFE: "active-sensing", 0xFF: "reset"}


def rec(**kw):
    return json.dumps(kw, separators=(",", ":"))


def message(status, data):
    hi = status & 0xF0
    if hi == 0xE0:
        return rec(type="pitch-bend", channel=(status & 15) + 1,
                   value=(data[0] | data[1] << 7) - 8192)
    if hi in CHAN:
        names = CHAN[hi]
        r = {"type": names[0], "channel": (status & 15) + 1}
        for k, v in zip(names[1:], data):
            r[k] = v
        return json.dumps(r, separators=(",", ":"))
    if status == 0xF1:
        return rec(type="mtc-quarter-frame", value=data[0])
    if status == 0xF2:
        return rec(type="song-position", position=data[0] | data[1] << 7)
    return rec(type="song-select", song=data[0])


def sysex(payload, more):
    r = {"type": "sysex", "data": bytes(payload).hex()}
    if more:
        r["continued"] = True
    return json.dumps(r, separators=(",", ":"))


def reference(data):
    out, status, need, have, sx = [], 0, 0, [], None
    for b in data:
        if sx is not None and len(sx) == 256 and (b < 0x80 or b in REALTIME):
            out.append(sysex(sx, True))  # a full chunk leaves when the message goes on
            sx = []
        if b >= 0xF8:
            if b in REALTIME:
                out.append(rec(type=REALTIME[b]))
            continue
        if b >= 0x80:
            if sx is not None:
                out.append(sysex(sx, False))
                sx = None
                if b == 0xF7:
                    continue
            have = []
            if b < 0xF0:
                status, need = b, (1 if b & 0xE0 == 0xC0 else 2)
            else:
                status, need = 0, 0
                if b == 0xF0:
                    sx = []
                elif b in (0xF1, 0xF3):
                    status, need = b, 1
                elif b == 0xF2:
                    status, need = b, 2
                elif b == 0xF6:
                    out.append(rec(type="tune-request"))
            continue
        if sx is not None:
            sx.append(b)
        elif need:
            have.append(b)
            if len(have) == need:
                out.append(message(status, have))
                have = []
                if status >= 0xF0:
                    status, need = 0, 0
    if sx is not None:
        out.append(sysex(sx, False))
    return out


def compare(name, data, want=None):
    rc, got, err = decode(data)
    if want is None:
        want = reference(data)
    ok = rc == 0 and got == want
    detail = ""
    if not ok:
        for i, (g, w) in enumerate(zip(got + ["<none>"] * len(want), want + ["<none>"] * len(got))):
            if g != w:
                detail = f"rc {rc}; line {i + 1}:\n got  {g[:200]}\n want {w[:200]}\n{err}"
                break
    check(name, ok, detail)
    return got


# --- every record, exactly as the schema ----------------------------
every = bytes([0x80, 60, 0, 0x90, 60, 100, 0xA0, 60, 30, 0xB0, 7, 100, 0xC0, 5, 0xD0, 30,
               0xE0, 0, 0, 0xF0, 0x7E, 0x7F, 0x06, 0x01, 0xF7, 0xF1, 37, 0xF2, 0x10, 0x02,
               0xF3, 5, 0xF6, 0xF8, 0xFA, 0xFB, 0xFC, 0xFE, 0xFF, 0x9F, 127, 0, 0xEF, 127, 127])
schema = [
    '{"type":"note-off","channel":1,"note":60,"velocity":0}',
    '{"type":"note-on","channel":1,"note":60,"velocity":100}',
    '{"type":"poly-pressure","channel":1,"note":60,"pressure":30}',
    '{"type":"control-change","channel":1,"controller":7,"value":100}',
    '{"type":"program-change","channel":1,"program":5}',
    '{"type":"channel-pressure","channel":1,"pressure":30}',
    '{"type":"pitch-bend","channel":1,"value":-8192}',
    '{"type":"sysex","data":"7e7f0601"}',
    '{"type":"mtc-quarter-frame","value":37}',
    '{"type":"song-position","position":272}',
    '{"type":"song-select","song":5}',
    '{"type":"tune-request"}', '{"type":"clock"}', '{"type":"start"}', '{"type":"continue"}',
    '{"type":"stop"}', '{"type":"active-sensing"}', '{"type":"reset"}',
    '{"type":"note-on","channel":16,"note":127,"velocity":0}',
    '{"type":"pitch-bend","channel":16,"value":8191}',
]
compare("every record type, exact schema lines", every, schema)
check("reference decoder agrees with the schema lines", reference(every) == schema)

# --- the rules -------------------------------------------------------------
rules = bytes.fromhex(
    "3c"                  # stray data
    "903c64 3e f8 64"     # running status, clock inside a message
    "f0 7e f8 7f f7"      # clock inside SysEx
    "b0 07 64 f1 25 08"   # system common cancels running status
    "f4 01 f9 fd"         # undefined status bytes
    "f7"                  # stray F7
    "90 3c 80 3c 40"      # incomplete message dropped
    "f0 01 02 c0 05 06"   # status ends unterminated SysEx; 1-byte running status
    "e0 00 40")
compare("MIDI rules: running status, real-time inside, cancel, undefined, stray, incomplete",
        rules, [
            '{"type":"note-on","channel":1,"note":60,"velocity":100}',
            '{"type":"clock"}',
            '{"type":"note-on","channel":1,"note":62,"velocity":100}',
            '{"type":"clock"}',
            '{"type":"sysex","data":"7e7f"}',
            '{"type":"control-change","channel":1,"controller":7,"value":100}',
            '{"type":"mtc-quarter-frame","value":37}',
            '{"type":"note-off","channel":1,"note":60,"velocity":64}',
            '{"type":"sysex","data":"0102"}',
            '{"type":"program-change","channel":1,"program":5}',
            '{"type":"program-change","channel":1,"program":6}',
            '{"type":"pitch-bend","channel":1,"value":0}',
        ])
rc, _, err = decode(rules)
check("dropped bytes are summarised on stderr", rc == 0 and "3 stray data" in err
      and "1 stray F7" in err and "3 undefined" in err and "1 incomplete" in err, err)

# --- 100 kB SysEx ------------------------------------------------------------
rnd = random.Random(3)
payload = bytes(b & 0x7F for b in rnd.randbytes(102400 + 77))
big = bytearray(b"\xf0")
for i, b in enumerate(payload):
    big.append(b)
    if i % 5000 == 4999:
        big.append(0xF8)
big += b"\xf7\x90\x3c\x64"
got = compare("100 kB SysEx with clocks inside: exact lines", bytes(big))
chunks = [json.loads(l) for l in got if '"sysex"' in l]
check("100 kB SysEx: chunks of 256 in order, continued on all but the last",
      len(chunks) == 401 and bytes.fromhex("".join(c["data"] for c in chunks)) == payload
      and all(c.get("continued") is True for c in chunks[:-1])
      and "continued" not in chunks[-1] and all(len(c["data"]) == 512 for c in chunks[:-1]))
exact = bytes([0xF0]) + payload[:512] + bytes([0xF7])
compare("SysEx of exactly two chunks: two records, the second not continued", exact, [
    sysex(payload[:256], True), sysex(payload[256:512], False)])

# --- random garbage ----------------------------------------------------------
rnd = random.Random(7)
garbage = rnd.randbytes(1 << 18)
got = compare("256 kB of random bytes: same lines as the reference decoder", garbage)
biased = bytes(rnd.choice((rnd.randrange(0x80, 0x100), rnd.randrange(0xF0, 0x100),
                           rnd.randrange(0x80))) for _ in range(60000))
compare("60 kB of status-heavy random bytes: same lines as the reference", biased)
keys = {"note-off": ["channel", "note", "velocity"], "note-on": ["channel", "note", "velocity"],
        "poly-pressure": ["channel", "note", "pressure"],
        "control-change": ["channel", "controller", "value"],
        "program-change": ["channel", "program"], "channel-pressure": ["channel", "pressure"],
        "pitch-bend": ["channel", "value"], "mtc-quarter-frame": ["value"],
        "song-position": ["position"], "song-select": ["song"]}


def schema_ok(line):
    r = json.loads(line)
    t = r["type"]
    k = list(r)[1:]
    if t == "sysex":
        return k in (["data"], ["data", "continued"]) and len(r["data"]) <= 512
    if t in keys:
        if k != keys[t]:
            return False
        lo, hi = {"pitch-bend": (-8192, 8191), "song-position": (0, 16383)}.get(t, (0, 127))
        return (all(0 <= r[x] <= 127 for x in k if x not in ("channel", "value", "position"))
                and ("channel" not in r or 1 <= r["channel"] <= 16)
                and all(lo <= r[x] <= hi for x in k if x in ("value", "position")))
    return k == [] and t in set(REALTIME.values()) | {"tune-request"}


bad = [l for l in got if not schema_ok(l)]
check("random garbage: every line fits the schema", got != [] and not bad, "\n".join(bad[:5]))

# --- --count, stdin and file, errors ----------------------------------------
rc, cnt, _ = decode(garbage, "--count", stdin=False)
counts = json.loads(cnt[0]) if rc == 0 and len(cnt) == 1 else {}
by_type = {}
for l in got:
    t = json.loads(l)["type"]
    by_type[t] = by_type.get(t, 0) + 1
order = ["note-off", "note-on", "poly-pressure", "control-change", "program-change",
         "channel-pressure", "pitch-bend", "sysex", "mtc-quarter-frame", "song-position",
         "song-select", "tune-request", "clock", "start", "continue", "stop",
         "active-sensing", "reset"]
check("--count FILE: one object, every type in schema order, equal to the lines",
      list(counts) == order and all(counts[t] == by_type.get(t, 0) for t in order), cnt[:1])
rc, cnt, _ = decode(bytes(big), "--count")
check("--count of the 100 kB SysEx", rc == 0 and json.loads(cnt[0])["sysex"] == 401
      and json.loads(cnt[0])["clock"] == 20 and json.loads(cnt[0])["note-on"] == 1, cnt)
rc, lines, _ = decode(rules, stdin=False)
check("FILE and stdin give the same output", rc == 0 and lines == reference(rules))
rc, lines, _ = decode(rules, "-")
check("'-' reads stdin", rc == 0 and lines == reference(rules))
rc, lines, err = decode(b"")
check("empty input: no output, no complaint", rc == 0 and lines == [] and err == "")
p = subprocess.run([*PHASORCTL, "decode", "/nonexistent/x.mid"], capture_output=True, text=True)
check("missing file: exit 1, message names it", p.returncode == 1
      and "/nonexistent/x.mid" in p.stderr and p.stdout == "", p.stderr)
p = subprocess.run([*PHASORCTL, "decode", "--bogus"], capture_output=True, text=True)
check("unknown option: exit 2", p.returncode == 2 and "--bogus" in p.stderr, p.stderr)

print(f"1..{len(results)}")
failed = 0
for i, (name, ok, detail) in enumerate(results, 1):
    if ok:
        print(f"ok {i} - {name}")
    else:
        failed += 1
        print(f"not ok {i} - {name}")
        for l in str(detail).splitlines():
            print(f"#   {l}")
sys.exit(1 if failed else 0)
