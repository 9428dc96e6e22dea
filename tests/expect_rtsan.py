#!/usr/bin/env python3
"""Passes only if RealtimeSanitizer kills the planted violation and lets the
clean run through.  usage: expect_rtsan.py rt_planted_runtime"""
import subprocess
import sys

exe = sys.argv[1]
good = subprocess.run([exe, "good"], capture_output=True, text=True, timeout=60)
bad = subprocess.run([exe, "bad"], capture_output=True, text=True, timeout=60)
checks = [
    ("clean RT path runs to completion", good.returncode == 0 and "completed" in good.stdout),
    ("planted malloc on the RT path aborts the process", bad.returncode != 0
     and "completed" not in bad.stdout),
    ("RTSan names the call", "RealtimeSanitizer" in bad.stderr and "malloc" in bad.stderr),
]
print(f"1..{len(checks)}")
fails = 0
for i, (name, ok) in enumerate(checks, 1):
    print(f"{'ok' if ok else 'not ok'} {i} - {name}")
    fails += not ok
if fails:
    for line in (good.stderr + bad.stderr).splitlines()[:30]:
        print("# " + line)
sys.exit(1 if fails else 0)
