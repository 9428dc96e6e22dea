#!/usr/bin/env python3
"""Module layering lint (ARCHITECTURE.md, STYLE.md section 2).

Checks every #include "module/..." in src/ and mocks/ against the allowed
dependency table, and that ALSA and liblo headers appear only where allowed.
Exit 0 when clean, 1 with one line per violation.  Used as a build step (the
build fails) and as a test.
"""
import pathlib
import re
import sys

# module -> modules it may include (itself is always allowed)
ALLOWED = {
    "rt": set(),
    "midi": {"rt"},
    "clock": {"rt", "midi/midi_msg.h"},
    "audio": {"rt", "clock/timeline.h", "clock/timesrc.h", "clock/clkout.h", "clock/clksnap.h"},
    "engine": {"rt", "midi", "clock", "audio"},
    "control": {"rt", "midi", "clock", "audio", "engine"},
    "programs": {"rt", "midi", "clock", "audio", "engine", "control"},
    "mocks": {"rt", "midi", "clock", "audio"},
}
MODULES = ("rt", "midi", "clock", "audio", "engine", "control")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def module_of(path: pathlib.Path, root: pathlib.Path) -> str:
    rel = path.relative_to(root)
    if rel.parts[0] == "mocks":
        return "mocks"
    if rel.parts[0] == "src" and len(rel.parts) == 2:
        return "programs"
    return rel.parts[1]


def allowed(mod: str, header: str) -> bool:
    target = header.split("/")[0]
    if target == mod:
        return True
    rules = ALLOWED[mod]
    return target in rules or header in rules


def check(root: pathlib.Path) -> list:
    errors = []
    files = sorted(list((root / "src").rglob("*.[ch]")) + list((root / "mocks").rglob("*.[ch]")))
    for f in files:
        mod = module_of(f, root)
        if mod not in ALLOWED:
            continue
        for n, line in enumerate(f.read_text(errors="replace").splitlines(), 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            kind, header = m.groups()
            where = f"{f.relative_to(root)}:{n}"
            if kind == '"' and header.split("/")[0] in MODULES and not allowed(mod, header):
                errors.append(f"{where}: module '{mod}' may not include \"{header}\" "
                              f"(allowed: {', '.join(sorted(ALLOWED[mod])) or 'nothing'})")
            if header.startswith("alsa/") and not re.search(r"_(alsa|rawmidi)\.c$", f.name):
                errors.append(f"{where}: <{header}> only in *_alsa.c / *_rawmidi.c backends")
            if header.startswith("lo/") and mod not in ("control",) and f.name != "phasorctl.c":
                errors.append(f"{where}: <{header}> only in src/control/ and phasorctl")
    return errors


def main() -> int:
    args = sys.argv[1:]
    stamp = None
    if "--stamp" in args:
        i = args.index("--stamp")
        stamp = args[i + 1]
        del args[i:i + 2]
    root = pathlib.Path(args[0] if args else ".").resolve()
    errors = check(root)
    for e in errors:
        print(e, file=sys.stderr)
    if errors:
        return 1
    if stamp:
        pathlib.Path(stamp).write_text("ok\n")
    print(f"layering OK ({root})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
