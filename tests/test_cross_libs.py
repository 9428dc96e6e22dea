#!/usr/bin/env python3
"""Cross builds only: every shared library of the arm64 programs, as the
exe_wrapper's loader resolves it, comes from the cross libc root (qemu -L) or
the private sysroot, never from the host's /lib/aarch64-linux-gnu.  A
system-wide libc6:arm64 of another version than the cross loader makes
threaded programs hang; a system-wide liblo7:arm64 would hide a package
missing from the sysroot (ADR 0009).  One TAP line per program.

usage: test_cross_libs.py SYSROOT PROGRAM...
       with $MESON_EXE_WRAPPER = qemu-aarch64 -L ROOT [options]
"""
import os
import shlex
import subprocess
import sys

sysroot = os.path.realpath(sys.argv[1])
programs = sys.argv[2:]
wrap = shlex.split(os.environ.get("MESON_EXE_WRAPPER", ""))
if not wrap or not os.path.basename(wrap[0]).startswith("qemu-") or "-L" not in wrap:
    print("1..0 # SKIP exe_wrapper is not qemu-user with -L (nothing to check)")
    sys.exit(0)
root = os.path.realpath(wrap[wrap.index("-L") + 1])


def inside(path):
    real = os.path.realpath(path)
    return any(real.startswith(r + os.sep) for r in (root, sysroot))


print(f"1..{len(programs)}")
failed = 0
for i, prog in enumerate(programs, 1):
    # ld.so's own listing mode, set in the guest only: on the host it would
    # make qemu's loader list qemu's libraries instead.
    cmd = wrap[:1] + ["-E", "LD_TRACE_LOADED_OBJECTS=1"] + wrap[1:] + [prog]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    bad, libs = [], 0
    for line in r.stdout.splitlines():
        line = line.strip()
        if "=>" in line:
            name, _, rest = line.partition("=>")
            path = rest.split("(")[0].strip()
            libs += 1
            if not path.startswith("/") or not inside(path):
                bad.append(f"{name.strip()} => {path or 'not found'}")
        elif line.startswith("/"):
            # the loader, named by its guest path: qemu takes it from under
            # -L if it is there, else silently from the host
            loader = line.split("(")[0].strip()
            if not os.path.exists(root + loader):
                bad.append(f"loader {loader} is not under {root}")
    ok = r.returncode == 0 and libs > 0 and not bad
    name = os.path.basename(prog)
    print(f"{'ok' if ok else 'not ok'} {i} - {name}: {libs} libraries, all from the cross roots")
    if not ok:
        failed += 1
        print(f"#   exit {r.returncode}; roots {root}, {sysroot}")
        for b in bad:
            print(f"#   outside: {b}")
        for line in (r.stdout + r.stderr).splitlines()[:20]:
            print(f"#   {line}")
sys.exit(1 if failed else 0)
