#!/usr/bin/env python3
"""End to end over real OSC: phasorsyncd driven by liblo-tools' oscsend and
oscdump (independent clients) and by phasorctl; a table of bad inputs, each
answered by /phasorsync/error while the daemon keeps its state; config reload
through OSC with a valid and an invalid file.  Output: TAP.

usage: test_osc_e2e.py PHASORSYNCD PHASORCTL SOURCE_ROOT
In a cross build meson puts its exe_wrapper (qemu) in $MESON_EXE_WRAPPER;
both programs then run through it.
"""
import json
import os
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

WRAP = shlex.split(os.environ.get("MESON_EXE_WRAPPER", ""))
DAEMON, CTL, ROOT = [*WRAP, sys.argv[1]], [*WRAP, sys.argv[2]], sys.argv[3]
results = []


def check(name, ok, detail=""):
    results.append((name, ok, detail))


def finish():
    print(f"1..{len(results)}")
    failed = 0
    for i, (name, ok, detail) in enumerate(results, 1):
        if ok is None:
            print(f"ok {i} - {name} # SKIP {detail}")
        elif ok:
            print(f"ok {i} - {name}")
        else:
            failed += 1
            print(f"not ok {i} - {name}")
            for line in str(detail).splitlines()[:40]:
                print(f"#   {line}")
    sys.exit(1 if failed else 0)


if not shutil.which("oscsend") or not shutil.which("oscdump"):
    print("1..0 # SKIP liblo-tools (oscsend, oscdump) not installed")
    sys.exit(0)


def free_port():
    for _ in range(50):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("0.0.0.0", port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()
    raise RuntimeError("no free port")


# --- a tiny OSC codec for our own raw client (reads the error replies) ---
def pad(b):
    return b + b"\0" * (4 - len(b) % 4)


def osc_msg(path, *args):
    tags, data = ",", b""
    for a in args:
        if isinstance(a, str):
            tags += "s"
            data += pad(a.encode())
        elif isinstance(a, float):
            tags += "f"
            data += struct.pack(">f", a)
        elif isinstance(a, int):
            tags += "i"
            data += struct.pack(">i", a)
    return pad(path.encode()) + pad(tags.encode()) + data


def osc_parse(d):
    def string(off):
        end = d.index(b"\0", off)
        return d[off:end].decode(), (end + 4) & ~3
    path, off = string(0)
    tags, off = string(off)
    args = []
    for t in tags[1:]:
        if t in "sS":
            v, off = string(off)
        elif t == "f":
            v = struct.unpack(">f", d[off:off + 4])[0]
            off += 4
        elif t == "i":
            v = struct.unpack(">i", d[off:off + 4])[0]
            off += 4
        elif t == "h":
            v = struct.unpack(">q", d[off:off + 8])[0]
            off += 8
        else:
            v = None
        args.append(v)
    return path, args


PORT = free_port()
conf_dir = tempfile.mkdtemp(prefix="ps-e2e-")
conf = os.path.join(conf_dir, "phasorsync.conf")
pat_dir = os.path.join(conf_dir, "patterns")
os.mkdir(pat_dir)
# one bar: C4 on beat 1 (96 PPQN, format 0)
trk = bytes([0x00, 0x90, 60, 100, 0x60, 0x80, 60, 64, 0x82, 0x20, 0xff, 0x2f, 0x00])
with open(os.path.join(pat_dir, "beat.mid"), "wb") as f:
    f.write(b"MThd" + (6).to_bytes(4, "big") + bytes([0, 0, 0, 1, 0, 96]) +
            b"MTrk" + len(trk).to_bytes(4, "big") + trk)
dump_file = os.path.join(conf_dir, "midi.jsonl")
MIDI = "[midi]\nbackend = dump\ndump_file = %s\n" % dump_file
with open(conf, "w") as f:
    f.write("[clock]\ntempo = 120\n[osc]\nport = %d\n[patterns]\ndir = %s\n%s" % (PORT, pat_dir, MIDI))
log = open(os.path.join(conf_dir, "daemon.log"), "w+")
daemon = subprocess.Popen([*DAEMON, "--config", conf], stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=log)
raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
raw.bind(("127.0.0.1", 0))
raw.settimeout(2)


def ask(path, *args):
    raw.sendto(osc_msg(path, *args), ("127.0.0.1", PORT))
    return osc_parse(raw.recv(65536))


def ctl(*args):
    return subprocess.run([*CTL, "--port", str(PORT)] + list(args), capture_output=True,
                          text=True, timeout=20)


def status():
    r = ctl("--json", "status")
    return json.loads(r.stdout) if r.returncode == 0 else {}


# wait until the daemon answers
up = False
for _ in range(100):
    try:
        if ask("/phasorsync/tempo")[0] == "/phasorsync/tempo":
            up = True
            break
    except (socket.timeout, ConnectionRefusedError):
        time.sleep(0.05)
check("daemon answers OSC", up)
if not up:
    daemon.kill()
    log.seek(0)
    results[-1] = ("daemon answers OSC", False, log.read())
    finish()

dump_port = free_port()
dump = subprocess.Popen(["stdbuf", "-oL", "oscdump", "-L", str(dump_port)], stdout=subprocess.PIPE,
                        stderr=subprocess.DEVNULL, text=True)
time.sleep(0.3)


def oscsend(path, types="", *args):
    cmd = ["oscsend", "localhost", str(PORT), path]
    if types:
        cmd += [types] + [str(a) for a in args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=10).returncode


# --- liblo-tools: subscribe, tempo, start, pushes ---------------------------
oscsend("/phasorsync/subscribe", "si", "beat", dump_port)
oscsend("/phasorsync/tempo", "f", 140.0)
oscsend("/phasorsync/start", "s", "now")
time.sleep(1.6)  # a process-level scenario: enough for a few beats at 140 BPM
st = status()
check("oscsend tempo 140 and start: status says playing at 140 BPM",
      st.get("transport") == "playing" and abs(st.get("tempo", 0) - 140) < 1e-3, st)
oscsend("/phasorsync/stop")
time.sleep(0.3)
dump.send_signal(signal.SIGTERM)
out = dump.communicate(timeout=5)[0]
lines = out.splitlines()
check("oscdump receives the pushed tempo", any("/phasorsync/tempo f 140" in l for l in lines), out)
check("oscdump receives transport playing then stopped",
      any('/phasorsync/transport sf "playing"' in l for l in lines)
      and any('/phasorsync/transport sf "stopped"' in l for l in lines), out)
beats = [l for l in lines if "/phasorsync/beat ii" in l]
check("oscdump receives beat events (>= 3 in 1.6 s at 140 BPM)", len(beats) >= 3, out)

# --- phasorctl -------------------------------------------------------------
r = ctl("tempo", "121.5")
check("phasorctl tempo 121.5: exit 0", r.returncode == 0, r.stderr)
r = ctl("tempo")
check("phasorctl tempo: shows 121.500 BPM", r.returncode == 0 and r.stdout.strip() == "121.500 BPM",
      r.stdout + r.stderr)
r = ctl("start", "bar")
time.sleep(0.1)
check("phasorctl start bar: exit 0, transport playing", r.returncode == 0 and
      status().get("transport") == "playing", r.stderr)
r = ctl("stop")
check("phasorctl stop: exit 0", r.returncode == 0, r.stderr)
r = ctl("status")
check("phasorctl status: readable lines", r.returncode == 0 and "transport" in r.stdout and
      "tempo" in r.stdout, r.stdout + r.stderr)
r = ctl("tempo", "abc")
check("phasorctl rejects a bad number locally (exit 2)", r.returncode == 2 and
      "must be a number" in r.stderr, r.stderr)
r = ctl("output", "clock", "swing", "90")
check("phasorctl: daemon refusal is exit 1 with the reason", r.returncode == 1 and
      "must be from 50 to 75" in r.stderr, r.stderr)

# --- patterns ---------------------------------------------------------------
r = ctl("pattern", "list")
check("phasorctl pattern list: the .mid files of patterns.dir", r.returncode == 0 and
      r.stdout.split() == ["beat"], r.stdout + r.stderr)
r1 = ctl("pattern", "beat", "launch", "bar")
r2 = ctl("pattern", "beat", "mute", "1")
time.sleep(0.1)
r = ctl("--json", "pattern", "status")
st = json.loads(r.stdout) if r.returncode == 0 else {}
check("phasorctl pattern NAME launch / mute, then pattern status shows it",
      r1.returncode == 0 and r2.returncode == 0 and st.get("name") == "beat" and
      st.get("state") in ("armed", "playing") and st.get("mute") == 1 and st.get("bars") == 1,
      r1.stderr + r2.stderr + r.stdout + r.stderr)
r1 = ctl("pattern", "beat", "mute", "0")
r2 = ctl("pattern", "beat", "stop", "now")
check("phasorctl pattern NAME mute 0 / stop now: exit 0", r1.returncode == 0 and r2.returncode == 0,
      r1.stderr + r2.stderr)
r = ctl("pattern", "beat", "solo", "2")
check("phasorctl pattern NAME solo 2 is refused locally (exit 2)", r.returncode == 2, r.stderr)
r = ctl("pattern", "nosuch", "launch")
check("phasorctl pattern with an unknown name: exit 1 with the reason", r.returncode == 1 and
      "no pattern named 'nosuch'" in r.stderr, r.stderr)

# --- bad inputs: every one answered, nothing changes ------------------------
before = status()
bad = [
    (("/phasorsync/tempo", "fast"), "expected a number"),
    (("/phasorsync/tempo", 5000.0), "must be from 20 to 999"),
    (("/phasorsync/tempo", float("nan")), "must be from 20 to 999"),
    (("/phasorsync/tempo", 130.0, "someday"), "must be now, beat or bar"),
    (("/phasorsync/start", "later"), "must be now, beat or bar"),
    (("/phasorsync/locate", -4.0), "must be from 0"),
    (("/phasorsync/quantum", 0), "must be from 1 to 64"),
    (("/phasorsync/output/none/offset", 1.0), "no output named"),
    (("/phasorsync/output/clock/ppqn", 4.5), "whole number"),
    (("/phasorsync/nonsense",), "unknown address"),
    (("/phasorsync/subscribe", "sometimes"), "must be state, bar or beat"),
    (("/phasorsync/pattern/none/launch",), "no pattern named"),
    (("/phasorsync/pattern/beat/launch", "later"), "must be now, beat or bar"),
    (("/phasorsync/pattern/beat/dance",), "unknown action"),
    (("/phasorsync/pattern/beat/mute",), "takes one value"),
    (("/phasorsync/pattern/",), "expected /phasorsync/pattern/list"),
]
all_ok, detail = True, []
for args, want in bad:
    try:
        path, rargs = ask(*args)
    except socket.timeout:
        path, rargs = "(no reply)", []
    ok = path == "/phasorsync/error" and len(rargs) == 2 and want in rargs[1]
    all_ok &= ok
    detail.append(f"{args!r} -> {path} {rargs!r}")
# the same bad values through oscsend (which cannot read replies): no effect
oscsend("/phasorsync/tempo", "f", 5000.0)
oscsend("/phasorsync/tempo", "s", "fast")
oscsend("/phasorsync/quantum", "i", 99)
raw.sendto(b"\x00\x01garbage that is not OSC at all", ("127.0.0.1", PORT))
time.sleep(0.2)
after = status()
same = all(before.get(k) == after.get(k) for k in ("transport", "tempo", "quantum"))
check("a table of bad inputs: each answered by /phasorsync/error naming what is allowed",
      all_ok, "\n".join(detail))
check("after the bad inputs the daemon keeps its state and runs",
      same and daemon.poll() is None, f"{before}\n{after}")

# --- follow and tap through phasorctl -----------------------------------------
r0 = ctl("follow")
r1 = ctl("follow", "on")
r1q = ctl("follow")
r1s = status()
r2 = ctl("follow", "sideways")
r3 = ctl("follow", "off")
r3q = ctl("follow")
check("phasorctl follow: off, then on (sync waiting), a bad value "
      "is a usage error (exit 2), off again",
      r0.returncode == 0 and r0.stdout.strip() == "off" and r1.returncode == 0 and
      r1q.stdout.strip() == "on" and r1s.get("sync") == "waiting" and r2.returncode == 2 and
      r3.returncode == 0 and r3q.stdout.strip() == "off", f"{r0} {r1} {r1q} {r2} {r3} {r3q}")
for i in range(5):  # tap tempo at 100 BPM: 0.6 s apart
    t_tap = time.monotonic()
    rt = ctl("tap")
    time.sleep(max(0.0, 0.6 - (time.monotonic() - t_tap)))
time.sleep(0.1)
st = status()
check("phasorctl tap, 5 taps 0.6 s apart: the tempo becomes 100 BPM (within 3 %)",
      rt.returncode == 0 and abs(st.get("tempo", 0) - 100) < 3, f"{rt.stderr} {st}")

# --- patterns reloaded while playing -------------------------------------------
# beat plays; then its file changes (D4 instead of C4), a second file appears,
# and the configuration gives beat its own channel and both a group.  A reload
# hands them over without stopping: beat plays on, the new version on its new
# channel; fill waits to be launched, and launching it switches (the group).
def one_bar(key):
    t = bytes([0x00, 0x90, key, 100, 0x60, 0x80, key, 64, 0x82, 0x20, 0xff, 0x2f, 0x00])
    return (b"MThd" + (6).to_bytes(4, "big") + bytes([0, 0, 0, 1, 0, 96]) +
            b"MTrk" + len(t).to_bytes(4, "big") + t)
ctl("tempo", "240")
ctl("pattern", "beat", "launch", "now")
ctl("start", "now")
time.sleep(1.5)
with open(os.path.join(pat_dir, "beat.mid"), "wb") as f:
    f.write(one_bar(62))
with open(os.path.join(pat_dir, "fill.mid"), "wb") as f:
    f.write(one_bar(64))
with open(conf, "w") as f:
    f.write("[clock]\ntempo = 240\n[osc]\nport = %d\n[patterns]\ndir = %s\ngroup = main\n"
            "[pattern.beat]\nchannel = 5\n%s" % (PORT, pat_dir, MIDI))
r = ctl("reload")
time.sleep(1.5)  # a bar at 240 BPM is 1 s
rl = ctl("pattern", "list")
rs = ctl("--json", "pattern", "status")
try:
    pst = {p["name"]: p for p in (json.loads(l) for l in rs.stdout.splitlines())}
except ValueError:
    pst = {}
check("reload with a changed pattern directory while playing: beat plays on (its new version, "
      "channel 5), fill is new and stopped, both in group main, transport still playing",
      r.returncode == 0 and rl.stdout.split() == ["beat", "fill"] and
      pst.get("beat", {}).get("state") == "playing" and pst["beat"].get("channel") == 5 and
      pst["beat"].get("group") == "main" and pst.get("fill", {}).get("state") == "stopped" and
      status().get("transport") == "playing", r.stderr + rl.stdout + rs.stdout + rs.stderr)
r = ctl("pattern", "fill", "launch", "bar")
time.sleep(2.5)
rs = ctl("--json", "pattern", "status")
try:
    pst = {p["name"]: p for p in (json.loads(l) for l in rs.stdout.splitlines())}
except ValueError:
    pst = {}
check("launching fill (group main) switches: fill plays, beat has stopped",
      r.returncode == 0 and pst.get("fill", {}).get("state") == "playing" and
      pst.get("beat", {}).get("state") == "stopped", rs.stdout + rs.stderr)
ctl("stop")

# --- reload over OSC: valid, then invalid ------------------------------------
with open(conf, "w") as f:
    f.write("[clock]\ntempo = 97\nquantum = 3\n[osc]\nport = %d\n%s" % (PORT, MIDI))
ctl("start")
time.sleep(0.2)
r = ctl("reload")
time.sleep(0.2)
st = status()
check("reload with a valid file while playing: applied without stopping (tempo 97, quantum 3)",
      r.returncode == 0 and abs(st.get("tempo", 0) - 97) < 1e-3 and st.get("quantum") == 3 and
      st.get("transport") == "playing", f"{r.stderr} {st}")
# phasorctl --json watch while playing: one JSON event per line, nothing else
w = subprocess.Popen([*CTL, "--port", str(PORT), "--json", "watch", "beat"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
time.sleep(2.2)
w.send_signal(signal.SIGINT)
wout, werr = w.communicate(timeout=10)
try:
    evs = [json.loads(l) for l in wout.splitlines()]
except ValueError:
    evs = None
check("phasorctl --json watch beat: beat events only, one JSON object per line, exit 0 on Ctrl-C",
      w.returncode == 0 and evs is not None and
      sum(1 for e in evs if e.get("event") == "beat") >= 2 and all("event" in e for e in evs),
      wout + werr)
with open(conf, "w") as f:
    f.write("[clock]\ntempo = 97\nquantum = 300\n[osc]\nport = %d\n%s" % (PORT, MIDI))
r = ctl("reload")
st = status()
check("reload with an invalid file: refused (exit 1, the reason with file:line), running "
      "configuration kept, still playing",
      r.returncode == 1 and "rejected" in r.stderr and f"{conf}:3:" in r.stderr and
      "clock.quantum = '300'" in r.stderr and st.get("quantum") == 3 and
      st.get("transport") == "playing", f"{r.stderr} {st}")

daemon.send_signal(signal.SIGTERM)
rc = daemon.wait(10)
log.seek(0)
text = log.read()
check("daemon exits 0 on SIGTERM; the invalid reload is logged with file:line",
      rc == 0 and f"{conf}:3:" in text and "clock.quantum = '300'" in text, text)
# what went out: the new beat (D4, channel 5) replaced the old (C4) at the
# reload, fill (E4) replaced beat at the switch, and nothing was left hanging
try:
    with open(dump_file) as f:
        sent = [json.loads(l) for l in f if l.strip()]
except (OSError, ValueError) as e:
    sent = []
notes = [(x["type"], x.get("channel"), x.get("note")) for x in sent
         if x["type"] in ("note-on", "note-off")]
ons = [n for n in notes if n[0] == "note-on"]
first_d4 = next((i for i, n in enumerate(ons) if n[2] == 62), None)
first_e4 = next((i for i, n in enumerate(ons) if n[2] == 64), None)
balance = {}
for typ, ch, key in notes:
    balance[(ch, key)] = balance.get((ch, key), 0) + (1 if typ == "note-on" else -1)
check("the dump shows it: C4 until the reload, then D4 on channel 5, then E4 after the switch; "
      "every note-on has its note-off",
      first_d4 is not None and first_e4 is not None and first_d4 < first_e4 and
      all(n[2] == 60 and n[1] == 1 for n in ons[:first_d4]) and
      all(n == ("note-on", 5, 62) for n in ons[first_d4:first_e4]) and
      all(n[2] == 64 for n in ons[first_e4:]) and all(v == 0 for v in balance.values()),
      f"{ons} {balance}")
shutil.rmtree(conf_dir, ignore_errors=True)
finish()
