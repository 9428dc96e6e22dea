#!/usr/bin/env python3
"""Passes only if the compiler REJECTS the planted RT-unsafe file, naming each
planted call.  Exit 77 (skip) when the compiler has no 'nonblocking' effect.

usage: expect_compile_error.py SOURCE_ROOT COMPILER [ARGS...]
"""
import subprocess
import sys

root, cc = sys.argv[1], sys.argv[2:]
probe = subprocess.run(cc + ["-x", "c", "-fsyntax-only", "-Werror", "-Wfunction-effects", "-"],
                       input="void f(void) __attribute__((nonblocking));\n",
                       capture_output=True, text=True)
if probe.returncode != 0:
    print("1..0 # SKIP compiler lacks __attribute__((nonblocking)) / -Wfunction-effects")
    sys.exit(0)
r = subprocess.run(cc + ["-std=c11", "-D_GNU_SOURCE", "-I", f"{root}/src", "-fsyntax-only",
                         "-Wfunction-effects", "-Werror", f"{root}/tests/rt_planted_unsafe.c"],
                   capture_output=True, text=True)
out = r.stderr
checks = [
    ("compilation fails", r.returncode != 0),
    ("malloc() is caught", "'malloc'" in out and "function-effects" in out),
    ("pthread_mutex_lock() is caught", "'pthread_mutex_lock'" in out),
    ("printf() is caught", "'printf'" in out),
]
print(f"1..{len(checks)}")
bad = 0
for i, (name, ok) in enumerate(checks, 1):
    print(f"{'ok' if ok else 'not ok'} {i} - {name}")
    bad += not ok
if bad:
    for line in out.splitlines():
        print("# " + line)
sys.exit(1 if bad else 0)
