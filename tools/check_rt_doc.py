#!/usr/bin/env python3
"""Keeps docs/rt-safety.md true (STYLE.md section 6).

1. Every function *defined* with RT_SAFE under src/ must be named in
   docs/rt-safety.md as `name`.
2. Every RT_SYSCALL_BEGIN("name") exception used under src/ must be named in
   the doc's "Named exceptions" section as `name`; there is no other way to
   make a system call from RT code.
3. Every function in the doc's tables (rows starting with | `name()`) must
   still exist with RT_SAFE.
Exit 0 when true, 1 with one line per discrepancy.
"""
import pathlib
import re
import sys

DEF = re.compile(r"\b(\w+)\s*\(([^;{}()]|\([^;{}()]*\))*\)\s*RT_SAFE\s*(__attribute__\s*\(\([^;{}]*\)\)\s*)?\{",
                 re.S)
EXC = re.compile(r'RT_SYSCALL_BEGIN\("([\w-]+)"\)')


def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    doc_path = root / "docs" / "rt-safety.md"
    doc = doc_path.read_text()
    named = doc.split("## Named exceptions", 1)
    exc_doc = named[1] if len(named) == 2 else ""
    documented = set(re.findall(r"^\|\s*`(\w+)\(\)`", doc, re.M))  # table rows
    errors = []
    defined = set()
    for f in sorted((root / "src").rglob("*.[ch]")):
        text = f.read_text(errors="replace")
        # drop comments so prose cannot satisfy or confuse the pattern
        text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
        for m in DEF.finditer(text):
            name = m.group(1)
            defined.add(name)
            if name not in documented:
                line = text.count("\n", 0, m.start()) + 1
                errors.append(f"{f.relative_to(root)}:{line}: RT_SAFE function {name}() "
                              f"is not listed in docs/rt-safety.md")
        for m in EXC.finditer(text):
            if f"`{m.group(1)}`" not in exc_doc:
                line = text.count("\n", 0, m.start()) + 1
                errors.append(f"{f.relative_to(root)}:{line}: RT exception \"{m.group(1)}\" "
                              f"is not described under 'Named exceptions' in docs/rt-safety.md")
    for name in sorted(documented - defined):
        errors.append(f"docs/rt-safety.md: lists {name}() but no RT_SAFE definition exists")
    for e in errors:
        print(e, file=sys.stderr)
    if not errors:
        print(f"rt-safety.md OK: {len(defined)} RT_SAFE functions documented")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
