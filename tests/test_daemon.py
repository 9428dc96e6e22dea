#!/usr/bin/env python3
"""phasorsyncd as a process: options, config checking, start, SIGTERM/SIGINT
shutdown, SIGHUP reload (valid and invalid), the single RT warning when run
unprivileged, and journald priority prefixes.  Output: TAP.

usage: test_daemon.py PHASORSYNCD SOURCE_ROOT
In a cross build meson puts its exe_wrapper (qemu) in $MESON_EXE_WRAPPER;
PHASORSYNCD then runs through it.
"""
import os
import select
import shlex
import signal
import subprocess
import sys
import tempfile
import time

DAEMON = [*shlex.split(os.environ.get("MESON_EXE_WRAPPER", "")), sys.argv[1]]
ROOT = sys.argv[2]
CONF = os.path.join(ROOT, "configs", "phasorsync.conf")
results = []


def free_port():
    """A UDP+TCP port nobody uses now (tests may run concurrently)."""
    import socket
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


def check(name, ok, detail=""):
    results.append((name, ok, detail))


def run(args, **kw):
    return subprocess.run(DAEMON + args, capture_output=True, text=True, timeout=20, **kw)


class Daemon:
    """A running daemon whose stderr is read line by line with timeouts."""

    def __init__(self, args, env=None, pre=None, stderr_pipe=None):
        if stderr_pipe is None:
            r, w = os.pipe()
        else:
            r, w = stderr_pipe
        args = args + ["--set", f"osc.port={free_port()}"]
        self.p = subprocess.Popen(pre_cmd(pre) + DAEMON + args, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=w, env=env)
        os.close(w)
        self.fd = r
        self.buf = b""
        self.lines = []

    def wait_for(self, text, timeout=10.0):
        end = time.monotonic() + timeout
        while True:
            for line in self.lines:
                if text in line:
                    return True
            left = end - time.monotonic()
            if left <= 0:
                return False
            rd, _, _ = select.select([self.fd], [], [], left)
            if not rd:
                return False
            chunk = os.read(self.fd, 4096)
            if not chunk:
                return any(text in l for l in self.lines)
            self.buf += chunk
            *done, self.buf = self.buf.split(b"\n")
            self.lines += [d.decode(errors="replace") for d in done]

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        t0 = time.monotonic()
        self.p.send_signal(sig)
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = None
        dt = time.monotonic() - t0
        self.wait_for("\x00never", 0.2)  # drain the rest
        os.close(self.fd)
        return rc, dt


def pre_cmd(pre):
    return pre or []


# --- options -----------------------------------------------------------
r = run(["--help"])
check("--help exits 0 and shows usage", r.returncode == 0 and "Usage: phasorsyncd" in r.stdout)
r = run(["--version"])
check("--version prints the version", r.returncode == 0 and r.stdout.startswith("phasorsyncd "))
r = run(["--bogus"])
check("unknown option exits 2", r.returncode == 2)
r = run(["stray"])
check("stray argument exits 2 with a message", r.returncode == 2 and "unexpected argument" in r.stderr)

# --- config checking ---------------------------------------------------
r = run(["--check-config", "--config", CONF])
check("shipped config passes --check-config", r.returncode == 0 and "configuration OK" in r.stdout,
      r.stderr)
with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
    f.write("[rt]\npriority = 120\n")
    bad = f.name
r = run(["--check-config", "--config", bad])
check("bad config: exit 1, file:line, key, value, range",
      r.returncode == 1 and f"{bad}:2:" in r.stderr and "rt.priority = '120'" in r.stderr
      and "from 0 to 99" in r.stderr, r.stderr)
r1 = run(["--check-config", CONF])
r = run(["--check-config", bad])
check("--check-config FILE (the file as its argument): 0 when valid, 1 with file:line when not",
      r1.returncode == 0 and "configuration OK" in r1.stdout and r.returncode == 1 and
      f"{bad}:2:" in r.stderr, r1.stderr + r.stderr)
r = run(["--check-config", "--config", CONF, "--set", "rt.cpu=x"])
check("bad --set rejected", r.returncode == 1 and "rt.cpu = 'x'" in r.stderr, r.stderr)
r = run(["--print-config", "--config", CONF, "--set", "rt.priority=11"])
check("--print-config shows overrides", r.returncode == 0 and "priority = 11" in r.stdout)
r = run(["--config", "/nonexistent.conf"])
check("missing --config file is fatal and named", r.returncode == 1 and
      "/nonexistent.conf: cannot read" in r.stderr, r.stderr)

# --- run and stop ------------------------------------------------------
for sig in (signal.SIGTERM, signal.SIGINT):
    d = Daemon(["--config", CONF])
    up = d.wait_for("running:")
    rc, dt = d.stop(sig)
    check(f"{sig.name}: started, exit 0, 'stopped' logged ({dt * 1000:.1f} ms)",
          up and rc == 0 and d.wait_for("stopped", 0) and dt < 1.0, "\n".join(d.lines))
    print(f"# {sig.name} to exit: {dt * 1000:.1f} ms (target < 100 ms)")

# --- reload ------------------------------------------------------------
with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
    f.write("[log]\nlevel = info\n")
    live = f.name
d = Daemon(["--config", live])
ok = d.wait_for("running:")
with open(live, "w") as f:
    f.write("[log]\nlevel = shouting\n")
d.p.send_signal(signal.SIGHUP)
ok_bad = d.wait_for("reload rejected") and d.wait_for("log.level = 'shouting'", 0)
with open(live, "w") as f:
    f.write("[log]\nlevel = debug\n")
d.p.send_signal(signal.SIGHUP)
ok_good = d.wait_for("configuration reloaded")
alive = d.p.poll() is None
rc, _ = d.stop()
check("SIGHUP with invalid file: rejected, keeps running", ok and ok_bad and alive,
      "\n".join(d.lines))
check("SIGHUP with valid file: reloaded", ok_good and rc == 0, "\n".join(d.lines))

# --- unprivileged: exactly one RT warning, keeps running ---------------
if os.geteuid() == 0 and subprocess.run(["which", "setpriv"], capture_output=True).returncode == 0:
    pre = ["prlimit", "--rtprio=0:0", "--memlock=65536:65536", "setpriv", "--reuid=65534",
           "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--"]
    d = Daemon(["--config", CONF], pre=pre)
    up = d.wait_for("running:")
    time.sleep(0.3)  # a process check, not a timing measurement: still alive after start-up?
    alive = d.p.poll() is None
    rc, _ = d.stop()
    warns = [l for l in d.lines if ": warning: " in l and "real-time" in l]
    # ASan turns mlockall() into a no-op that succeeds, so the memlock part of
    # the warning is required exactly when the daemon reports it unlocked.
    unlocked = any("memory locked: no" in l for l in d.lines)
    check("unprivileged: exactly one RT warning naming the limits, rt: false, keeps running",
          up and alive and rc == 0 and len(warns) == 1 and "RLIMIT_RTPRIO is 0" in warns[0]
          and "LimitRTPRIO=" in warns[0] and ("RLIMIT_MEMLOCK" in warns[0]) == unlocked
          and any("rt: false" in l for l in d.lines), "\n".join(d.lines))
else:
    results.append(("unprivileged run", None, "needs root and setpriv to drop privileges"))

# --- journald prefixes -------------------------------------------------
r, w = os.pipe()
st = os.fstat(w)
env = dict(os.environ, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
d = Daemon(["--config", CONF], env=env, stderr_pipe=(r, w))
up = d.wait_for("running:")
rc, _ = d.stop()
check("under systemd (JOURNAL_STREAM): lines carry <N> priorities",
      up and rc == 0 and all(l.startswith("<") for l in d.lines if l)
      and any(l.startswith("<5>running:") for l in d.lines), "\n".join(d.lines))

# --- --render: virtual time, deterministic ---------------------------------
import json
r1 = run(["--config", CONF, "--render", "10", "--start", "--tempo", "120"])
r2 = run(["--config", CONF, "--render", "10", "--start", "--tempo", "120"])
recs = [json.loads(l) for l in r1.stdout.splitlines() if l.strip()]
clocks = [x for x in recs if x["type"] == "clock"]
starts = [x for x in recs if x["type"] == "start"]
# the start command runs at the first 10 ms heartbeat; with 10 ms lookahead the
# downbeat is the next 24 PPQN tick after 20 ms: tick 1 = 20.833333 ms.  The
# render ends as SIGTERM at its end would: the transport stops on the first
# tick after 10 s (tick 481), so the clock of tick 480 (10 s) still goes out
# and the Stop comes 1 ms before tick 481.
exact = all(c["due_ns"] == (2 * (k + 1) * 62500000 + 3) // 6 for k, c in enumerate(clocks))
check("--render 10 --start: deterministic output, Start then clocks exactly on the 120 BPM grid, "
      "then a Stop",
      r1.returncode == 0 and r1.stdout == r2.stdout and len(starts) == 1 and
      starts[0]["due_ns"] == clocks[0]["due_ns"] - 1000000 and exact and len(clocks) == 480 and
      recs[-1]["type"] == "stop" and recs[-1]["due_ns"] == (2 * 481 * 62500000 + 3) // 6 - 1000000
      and all(x["due_ns"] - x["t_ns"] == 10000000 for x in recs), r1.stderr + r1.stdout[-400:])
wav = tempfile.mktemp(suffix=".wav")
r = run(["--config", CONF, "--render", "3", "--start", "--audio-device", wav])
size = os.path.getsize(wav) if os.path.exists(wav) else 0
# 3 s at 48 kHz, 2 channels, 16-bit = 576000 bytes of samples plus the header
check("--render 3 --audio-device FILE.wav writes 3 s of audio beside the MIDI",
      r.returncode == 0 and 576000 < size < 576000 + 200, f"{r.stderr} size={size}")
if os.path.exists(wav):
    os.unlink(wav)
# an audio file that cannot be written fails the render (exit 1, the reason named)
r = run(["--config", CONF, "--render", "3", "--start", "--audio-device", "/dev/full"])
check("--render with an unwritable audio file fails with the reason",
      r.returncode == 1 and "cannot write /dev/full: No space left on device" in r.stderr and
      "render failed" in r.stderr, r.stderr)
# a pattern from a directory, autostarted: its notes land exactly on the
# 120 BPM grid from the downbeat (tick 1 = 20.833333 ms), loop after loop
pdir = tempfile.mkdtemp()
def vlq(n):
    out = [n & 0x7f]
    n >>= 7
    while n:
        out.insert(0, 0x80 | (n & 0x7f))
        n >>= 7
    return bytes(out)
trk = (vlq(0) + bytes([0x90, 60, 100]) + vlq(96) + bytes([0x80, 60, 64]) +
       vlq(96) + bytes([0x91, 67, 90]) + vlq(48) + bytes([0x81, 67, 64]) +
       vlq(144) + bytes([0xff, 0x2f, 0x00]))
with open(os.path.join(pdir, "beat.mid"), "wb") as f:
    f.write(b"MThd" + (6).to_bytes(4, "big") + bytes([0, 0, 0, 1, 0, 96]) +
            b"MTrk" + len(trk).to_bytes(4, "big") + trk)
with open(os.path.join(pdir, "broken.mid"), "wb") as f:
    f.write(b"MThd\0\0\0\6\0\0")
r = run(["--config", CONF, "--render", "4.5", "--start", "--set", f"patterns.dir={pdir}",
         "--set", "patterns.autostart=beat"])
recs = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
notes = [x for x in recs if x["type"] in ("note-on", "note-off")]
t0 = 62500000 // 3  # the downbeat: 20833333.33 ns
want = []
for loop in range(3):  # loops start at 0, 2, 4 s after the downbeat
    for beat, typ, ch, key in ((0, "note-on", 1, 60), (1, "note-off", 1, 60),
                               (2, "note-on", 2, 67), (2.5, "note-off", 2, 67)):
        t = t0 + (loop * 4 + beat) * 500000000
        if t < 4500000000:
            want.append((round(t), typ, ch, key))
# the end (first tick after 4.5 s, 4.520833 s) stops the transport: the C4
# struck at 4.020833 s ends there, which is where the file ends it too
want.append((round(t0 + 9 * 500000000), "note-off", 1, 60))
got = [(x["due_ns"], x["type"], x.get("channel"), x.get("note")) for x in notes]
check("--render with patterns.dir and patterns.autostart plays the pattern's notes exactly",
      r.returncode == 0 and got == want and "broken.mid skipped" in r.stderr and
      [x["type"] for x in recs[-2:]] == ["stop", "note-off"],
      f"{r.stderr}\ngot={got}\nwant={want}\n{r.stdout[:600]}")
# a render ending mid-note ends it: at 4.3 s the C4 of 4.020833 s sounds (its
# note-off is at 4.520833 s); the transport stops on the first tick after
# 4.3 s and every note-on has its note-off there
r = run(["--config", CONF, "--render", "4.3", "--start", "--set", f"patterns.dir={pdir}",
         "--set", "patterns.autostart=beat"])
recs = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
ons = sum(1 for x in recs if x["type"] == "note-on")
offs = [x for x in recs if x["type"] == "note-off"]
stop_tick = (2 * (4300000000 * 24 // 500000000 + 1) * 62500000 + 3) // 6  # tick 207 of 20.833 ms
check("--render ending mid-note: the note ends on the Stop's tick, none is left hanging",
      r.returncode == 0 and ons == 5 and len(offs) == 5 and offs[-1]["note"] == 60 and
      offs[-1]["due_ns"] == stop_tick and recs[-2]["type"] == "stop" and recs[-1] is offs[-1] and
      recs[-2]["due_ns"] == stop_tick - 1000000, f"{r.stderr}\n{r.stdout[-600:]} {stop_tick}")
# patterns.length_bars = 2: the 1-bar file loops every 2 bars (4 s at 120 BPM)
r = run(["--config", CONF, "--render", "9", "--start", "--set", f"patterns.dir={pdir}",
         "--set", "patterns.autostart=beat", "--set", "patterns.length_bars=2"])
ons = [x["due_ns"] for x in (json.loads(l) for l in r.stdout.splitlines() if l.strip())
       if x["type"] == "note-on" and x.get("note") == 60]
check("patterns.length_bars = 2: a 1-bar pattern loops every 2 bars",
      r.returncode == 0 and ons == [t0 + k * 4000000000 for k in range(3)], f"{r.stderr} {ons}")
r = run(["--config", CONF, "--render", "1", "--set", f"patterns.dir={pdir}",
         "--set", "patterns.autostart=nosuch"])
check("patterns.autostart naming a missing pattern warns and runs",
      r.returncode == 0 and "no pattern 'nosuch'" in r.stderr, r.stderr)
r = run(["--config", CONF, "--render", "1", "--set", "patterns.dir=/nonexistent/pats"])
check("a missing patterns.dir is a warning, not fatal",
      r.returncode == 0 and "cannot read /nonexistent/pats" in r.stderr, r.stderr)
r = run(["--config", CONF, "--print-config", "--set", "patterns.channel=0"])
check("patterns.channel = 0 is refused with a clear error",
      r.returncode != 0 and "1..16" in r.stderr, r.stderr)

# A multi-track file (format 1: a tempo track and two note tracks) through
# the dump backend in virtual time: every note on its nanosecond at two box
# tempos, and with tempo = file, across the file's tempo change in the middle
# of the loop (100 BPM, then 150 from beat 3) and back at every loop start.
# Expected times are computed here from the positions (1/1612800 beat) with
# the timeline's rule: each tempo change anchors at its position, times are
# rounded to the ns, half up.
def trk(events):
    body = b"".join(vlq(d) + bytes(e) for d, e in events)
    return b"MTrk" + len(body).to_bytes(4, "big") + body
mdir = tempfile.mkdtemp()
with open(os.path.join(mdir, "multi.mid"), "wb") as f:
    f.write(b"MThd" + (6).to_bytes(4, "big") + bytes([0, 1, 0, 3, 0, 96]) +
            trk([(0, [0xff, 0x58, 4, 4, 2, 24, 8]), (0, [0xff, 0x51, 3, 0x09, 0x27, 0xc0]),
                 (192, [0xff, 0x51, 3, 0x06, 0x1a, 0x80]), (192, [0xff, 0x2f, 0])]) +
            trk([(0, [0x90, 60, 100]), (96, [0x80, 60, 64]), (96, [0x90, 64, 100]),
                 (96, [0x80, 64, 64]), (96, [0xff, 0x2f, 0])]) +
            trk([(48, [0x91, 36, 100]), (96, [0x81, 36, 64]), (96, [0x91, 38, 100]),
                 (144, [0x81, 38, 64]), (0, [0xff, 0x2f, 0])]))
UNITS, NUM = 1612800, 60000000000 * 1000000
def delta(dpos, bpm_micro):
    den = UNITS * bpm_micro
    return (2 * dpos * NUM + den) // (2 * den)
P0, TICK96 = UNITS // 24, UNITS // 96  # the song origin (24 PPQN tick 1), a file tick
LOOP = 384 * TICK96
MULTI = [(0, "note-on", 1, 60), (48, "note-on", 2, 36), (96, "note-off", 1, 60),
         (144, "note-off", 2, 36), (192, "note-on", 1, 64), (240, "note-on", 2, 38),
         (288, "note-off", 1, 64), (384, "note-off", 2, 38)]
def expected(box_bpm, tempo_map, end_ns):
    anchors = [(0, 0, box_bpm)]  # (position, time, tempo from there)
    for l in range(5 if tempo_map else 0):
        for apos, b in ((P0 + l * LOOP, 100000000), (P0 + l * LOOP + 192 * TICK96, 150000000)):
            p, t0, b0 = anchors[-1]
            anchors.append((apos, t0 + delta(apos - p, b0), b))
    out = []
    for loop in range(4):  # in playing order: a loop's last note-off before the next loop
        for tick, typ, ch, key in MULTI:
            pos = P0 + loop * LOOP + tick * TICK96
            p, t0, b0 = [a for a in anchors if a[0] <= pos][-1]
            t = t0 + delta(pos - p, b0)
            if t < end_ns:
                out.append((t, typ, ch, key))
    return out
for box, mode in ((120, "ignore"), (90, "ignore"), (120, "file")):
    r = run(["--config", CONF, "--render", "4.5", "--start", "--tempo", str(box),
             "--set", f"patterns.dir={mdir}", "--set", "patterns.autostart=multi",
             "--set", f"pattern.multi.tempo={mode}"])
    recs = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
    got = [(x["due_ns"], x["type"], x["channel"], x["note"]) for x in recs
           if x["type"] in ("note-on", "note-off") and x["due_ns"] < 4500000000]
    want = expected(box * 1000000, mode == "file", 4500000000)
    bal = sum(1 if x["type"] == "note-on" else -1 for x in recs if x["type"] in ("note-on", "note-off"))
    check(f"a format 1 file through the dump backend, box tempo {box}, tempo = {mode}: every "
          "note on its nanosecond, none left hanging at the end",
          r.returncode == 0 and got == want and len(got) >= 14 and bal == 0,
          f"{r.stderr}\ngot ={got}\nwant={want}")
# SIGTERM while the pattern plays, in real time: Stop, then a note-off for
# every note still on, then exit 0 - at two moments (each note sounding;
# under an emulator the moment may miss the note, the balance must hold)
emulated = bool(os.environ.get("MESON_EXE_WRAPPER"))
for delay in (0.2, 1.1):  # after the first note-on: note 60 sounds, then note 67
    dump = tempfile.mktemp(suffix=".jsonl")
    p = subprocess.Popen(DAEMON + ["--config", CONF, "--set", "midi.backend=dump",
                                   "--set", f"midi.dump_file={dump}",
                                   "--set", f"osc.port={free_port()}",
                                   "--set", f"patterns.dir={pdir}",
                                   "--set", "patterns.autostart=beat", "--start"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    # time from the pattern's first note-on, not from the launch (slow under qemu)
    t_end = time.monotonic() + 15
    while time.monotonic() < t_end:
        if os.path.exists(dump) and '"note-on"' in open(dump).read():
            break
        time.sleep(0.01)
    time.sleep(delay)
    p.send_signal(signal.SIGTERM)
    err = p.communicate(timeout=10)[1]
    recs = []
    if os.path.exists(dump):
        with open(dump) as f:
            recs = [json.loads(l) for l in f if l.strip()]
        os.unlink(dump)
    sounding, on_at_stop, stop_seen = {}, 0, False
    for x in recs:
        key = (x.get("channel"), x.get("note"))
        if x["type"] == "stop" and not stop_seen:
            stop_seen = True
            on_at_stop = sum(sounding.values())
        elif x["type"] == "note-on":
            sounding[key] = sounding.get(key, 0) + 1
        elif x["type"] == "note-off":
            sounding[key] = sounding.get(key, 0) - 1
    check(f"SIGTERM {delay} s after the pattern's first note: Stop, note-offs for exactly the {on_at_stop} "
          "sounding note(s), exit 0",
          p.returncode == 0 and stop_seen and (on_at_stop >= 1 or emulated) and
          all(v == 0 for v in sounding.values()), err + repr(recs[-6:]))
for fn in os.listdir(pdir):
    os.unlink(os.path.join(pdir, fn))
os.rmdir(pdir)
r = run(["--render", "0"])
check("--render with a bad duration is refused", r.returncode == 2 and "--render '0'" in r.stderr, r.stderr)

# --- systemd notification protocol --------------------------------------
import socket
sockpath = tempfile.mktemp(prefix="ps-notify-")
ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
ns.bind(sockpath)
ns.settimeout(5)
env = dict(os.environ, NOTIFY_SOCKET=sockpath, WATCHDOG_USEC="300000")
d = Daemon(["--config", CONF], env=env)
got = []
try:
    end = time.monotonic() + 3
    while time.monotonic() < end and sum(1 for g in got if g == "WATCHDOG=1") < 3:
        got.append(ns.recv(4096).decode())
except socket.timeout:
    pass
d.p.send_signal(signal.SIGHUP)
try:
    for _ in range(10):
        m = ns.recv(4096).decode()
        got.append(m)
        if m == "READY=1" and "RELOADING=1" in got:
            break
except socket.timeout:
    pass
rc, _ = d.stop()
try:
    while True:
        got.append(ns.recv(4096).decode())
except (socket.timeout, OSError):
    pass
ns.close()
os.unlink(sockpath)
check("sd_notify: READY=1, STATUS with tempo, WATCHDOG=1 while the engine runs, "
      "RELOADING=1/READY=1 on SIGHUP, STOPPING=1",
      rc == 0 and "READY=1" in got and any(g.startswith("STATUS=stopped at 120.000 BPM") for g in got)
      and got.count("WATCHDOG=1") >= 3 and "RELOADING=1" in got and "STOPPING=1" in got,
      repr(got))

# --- an audio device that is not there: retried, MIDI untouched -------------
# (snd-aloop's removal and return while playing is the VM suite's; here the
# device never appears: the same retry path, with the MIDI clock measured)
dump = tempfile.mktemp(suffix=".jsonl")
p = subprocess.Popen(DAEMON + ["--config", CONF, "--set", "midi.backend=dump",
                               "--set", f"midi.dump_file={dump}", "--set", f"osc.port={free_port()}",
                               "--set", "audio.enabled=true", "--audio-device", "hw:7,0",
                               "--start", "--tempo", "120"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
time.sleep(3.5)
p.send_signal(signal.SIGTERM)
err = p.communicate(timeout=10)[1]
clocks, late = [], 0
if os.path.exists(dump):
    with open(dump) as f:
        recs = [json.loads(l) for l in f if '"clock"' in l]
    clocks = [x["due_ns"] for x in recs]
    late = max((x["t_ns"] - x["due_ns"] for x in recs), default=0)
    os.unlink(dump)
rate = (len(clocks) - 1) / ((clocks[-1] - clocks[0]) / 1e9) if len(clocks) > 2 else 0
check("absent audio device: one warning that it is retried, alsa-lib's line once, and the MIDI "
      f"clock runs at 48/s meanwhile (measured {rate:.3f}/s over {len(clocks)} clocks, "
      f"each handed out by its due time: latest {late / 1e6:+.2f} ms)",
      p.returncode == 0 and err.count("hw:7,0 not available") == 1 and "retrying every 1 s" in err
      and err.count("Cannot get card index") <= 1 and len(clocks) > 100 and abs(rate - 48) < 0.01
      and late < 2000000,
      err)

os.unlink(bad)
os.unlink(live)
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
        for l in detail.splitlines():
            print(f"#   {l}")
sys.exit(1 if failed else 0)
