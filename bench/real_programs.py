"""The real-programs corpus (``examples/real/``): cold start vs ``amber restore``, as a Markdown table.

    python bench/real_programs.py [--runs N] [PROGRAM.py ...]

Each program (default: ``examples/service.py`` and every ``examples/real/*.py``) names the
packages it imports on a ``Needs:`` line of its docstring (``Needs: sklearn (scikit-learn),
scipy.``: import names, with the distribution in brackets when it differs). A program whose
packages are not importable here is listed as skipped. Each other program is run once cold
(which writes its ``.pyc`` files), snapshotted once and restored once; the restore must print
the same standard output and leave with the same exit code. Then it is started N times cold and
N times restored, interleaved (cold, restored, cold, ...), as whole processes the way a user
starts them: the program with the interpreter, the restore with the installed ``amber`` command.
Bytecode caching is on for both (PYTHONDONTWRITEBYTECODE is removed). The table gives the
medians; a refusal gives the first line of ``amber snapshot``'s error, a difference the first
line that differs. Details of every failure follow the table. ``tests/test_real_programs.py``
checks the same corpus (``AMBER_REAL=all``) or a bounded part of it (CI).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import glob
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REAL = os.path.join(ROOT, "examples", "real")


@dataclasses.dataclass(frozen=True)
class Need:
    module: str        # what the program imports
    distribution: str  # what pip installs


def needs(path: str) -> list[Need]:
    """The packages a program's docstring names on its ``Needs:`` line (none if it has none)."""
    with open(path, encoding="utf-8") as f:
        doc = ast.get_docstring(ast.parse(f.read())) or ""
    text = " ".join(doc.split())
    if "Needs:" not in text:
        return []
    found = []
    for item in text.split("Needs:", 1)[1].rstrip(".").split(","):
        module, _, dist = item.strip().partition(" ")
        found.append(Need(module, dist.strip("() ") or module))
    return found


def corpus() -> list[str]:
    """The corpus programs, by path, in name order."""
    return sorted(glob.glob(os.path.join(REAL, "*.py")))


def missing(path: str) -> list[str]:
    """The packages of a program that this interpreter cannot import."""
    return [n.module for n in needs(path) if importlib.util.find_spec(n.module) is None]


@dataclasses.dataclass
class Row:
    name: str
    packages: str
    cold: str = ""
    snapshot: str = ""
    identical: str = ""
    cold_ms: list[float] = dataclasses.field(default_factory=list)
    restored_ms: list[float] = dataclasses.field(default_factory=list)
    image_bytes: int = 0
    details: list[str] = dataclasses.field(default_factory=list)


def launch(cmd: list[str], env: dict, cwd: str) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                       timeout=600)
    return (time.perf_counter() - t0) * 1000, p


def first_line(text: str) -> str:
    """The line that says why: Amber's error line when there is one (notes and the program's
    warnings may come before it) with the first object it lists, else the first line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    at = next((i for i, line in enumerate(lines) if line.startswith("amber: error")), 0)
    if not lines:
        return "(nothing on stderr)"
    if lines[at].endswith(":") and at + 1 < len(lines):  # a list follows: its first item says what
        return f"{lines[at]} {lines[at + 1]}"
    return lines[at]


def first_difference(a: str, b: str) -> str:
    la, lb = a.splitlines(), b.splitlines()
    for i in range(max(len(la), len(lb))):
        x = la[i] if i < len(la) else "<end>"
        y = lb[i] if i < len(lb) else "<end>"
        if x != y:
            return f"line {i + 1}: cold {x[:70]!r}, restored {y[:70]!r}"
    return "same lines, different line endings"


def measure(program: str, runs: int, env: dict, tmp: str, amber: str) -> Row:
    name = os.path.basename(program)
    row = Row(name, ", ".join(n.distribution for n in needs(program)) or "(stdlib)")
    absent = missing(program)
    if absent:
        row.cold = row.snapshot = row.identical = f"skipped: {', '.join(absent)} not installed"
        return row
    cwd = os.path.dirname(program)
    image = os.path.join(tmp, name + ".amber")
    _, cold = launch([sys.executable, program], env, cwd)  # also writes the .pyc files a user would have
    row.cold = "ok" if cold.returncode == 0 else f"exit {cold.returncode}"
    _, snap = launch([amber, "snapshot", "-o", image, program], env, cwd)
    if snap.returncode != 0:
        row.snapshot = f"refused: {first_line(snap.stderr)}"
        row.identical = "-"
        row.details.append(snap.stderr.strip())
        return row
    row.snapshot = "ok"
    row.image_bytes = os.path.getsize(image)
    _, restored = launch([amber, "restore", image], env, cwd)
    if restored.stdout == cold.stdout and restored.returncode == cold.returncode:
        row.identical = "yes"
    else:
        differences = []
        if restored.returncode != cold.returncode:  # the why first: Amber's error or the last line
            why = [line for line in restored.stderr.splitlines() if line.strip()]
            errors = [line for line in why if line.startswith("amber: error")]
            differences.append(f"exit {restored.returncode} (cold {cold.returncode}): "
                               + (errors or why or ["nothing on stderr"])[-1].strip())
        if restored.stdout != cold.stdout:
            differences.append(first_difference(cold.stdout, restored.stdout))
        row.identical = "NO: " + "; ".join(differences)
        row.details.append(f"restore exit {restored.returncode}; stderr:\n{restored.stderr.strip()[-2000:]}")
        return row
    for _ in range(runs):
        row.cold_ms.append(launch([sys.executable, program], env, cwd)[0])
        row.restored_ms.append(launch([amber, "restore", image], env, cwd)[0])
    return row


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(rows: list[Row], runs: int) -> str:
    out = [f"{runs} interleaved runs each of the programs that restore identically; medians in ms, "
           "whole processes\n",
           "| program | packages | cold | snapshot | restored identical | cold ms | restored ms "
           "| restored/cold | image |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r.cold_ms:
            c, s = statistics.median(r.cold_ms), statistics.median(r.restored_ms)
            times = f"{c:.0f} | {s:.0f} | {s / c:.2f}"
        else:
            times = "- | - | -"
        image = f"{r.image_bytes / 1e6:.1f} MB" if r.image_bytes else "-"
        out.append(f"| `{r.name}` | {cell(r.packages)} | {cell(r.cold)} | {cell(r.snapshot)} "
                   f"| {cell(r.identical)} | {times} | {image} |")
    ok = sum(r.identical == "yes" for r in rows)
    refused = sum(r.snapshot.startswith("refused") for r in rows)
    differ = sum(r.identical.startswith("NO") for r in rows)
    skipped = sum(r.cold.startswith("skipped") for r in rows)
    out.append(f"\n{len(rows)} programs: {ok} restored identically, {refused} refused, {differ} differed, "
               f"{skipped} skipped")
    failures = [r for r in rows if r.details]
    if failures:
        out.append("\nDetails:\n")
        for r in failures:
            out.append(f"`{r.name}`:\n```\n" + "\n".join(r.details)[-3000:] + "\n```")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("programs", nargs="*")
    args = parser.parse_args()
    programs = [os.path.abspath(p) for p in args.programs] or [
        os.path.join(ROOT, "examples", "service.py"), *corpus()]
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    amber = os.path.join(os.path.dirname(sys.executable), "amber")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for program in programs:
            rows.append(measure(program, args.runs, env, tmp, amber))
            row = rows[-1]
            print(f"{row.name}: {row.snapshot or row.cold}, {row.identical}", file=sys.stderr)
    print(table(rows, args.runs))


if __name__ == "__main__":
    main()
