"""Fuzz the command line's readers of images (and, as targets are added, of cache files) with
mutated inputs, each run as a whole process through the real command line.

    python bench/fuzz.py [--mutations 2000] [--seed N] [--jobs 2] [--timeout 30] [--keep DIR]

Each mutation makes one input for one target (the targets take turns) and runs the target's
command on it; every run ends in one of these outcomes:

* ``refused``: exit code 2 and exactly one ``amber: error: ...`` line on stderr, nothing else;
* ``restored``: exit code 0 and the output of the unchanged input (``amber inspect``: any output,
  and JSON for ``--json``);
* ``restored, other output``: exit code 0 with another output, from an input re-signed with the
  fuzz's own key (its changed values are as good as the key holder's), not a failure;
* failures: ``crash`` (killed by a signal), ``traceback`` (a Python traceback on stderr),
  ``hang`` (no exit within ``--timeout`` seconds), ``bad refusal`` (a non-zero exit without
  exactly one ``amber: error:`` line), ``unverified change`` (an input that was *not* re-signed
  restored with another output: a change reached the program unchecked).

Mutations: bit flips, byte overwrites, truncations, insertions and extensions, aimed at each
part of an image in turn (the prefix, the signature block, the header, every section including
the mapped buffers and the lazy code, the padding between them, the end), and re-signed
variants: the signed prefix, the header (bytes, or one field set to a hostile value) or a
section's bytes changed, the digests fixed and the image signed again with the fuzz's own HMAC
key (``AMBER_KEY``), so that the decoders behind the signature see them. Sections that are
programs (the heap, the lazy code) are not re-signed: a key holder can make them run anything
by design (an image is code).

Targets are entries of ``TARGETS``: (name, make_input, command), where ``make_input(rng, work)``
returns an :class:`Input` (the file, what was done to it, whether it was re-signed, extra
environment) and ``command(input)`` the argv. ``expect`` says what a successful run prints.
``amber run`` targets mutate a copy of its cache (the image, the program record, the no-image
marker, the key; or remove one) and must run the program as a cold run would, with at most one
warning: any other outcome is ``program did not run``.

Prints the count of each outcome per target and overall; exits 1 on any failure, and with
``--keep DIR`` copies each failing input there with the command that reproduces it.
``tests/test_fuzz.py`` runs a bounded form (150 mutations).
"""

from __future__ import annotations

import argparse
import collections
import json
import marshal
import os
import random
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src"))

from amber.image import format as fmt  # noqa: E402
from amber.image import signing  # noqa: E402

AMBER = [sys.executable, "-m", "amber"]
FAILURES = ("crash", "traceback", "hang", "bad refusal", "unverified change", "program did not run")

PROGRAM = """
import array
import zlib

BLOB = bytes(range(256)) * 2048                 # 512 KiB: mapped from the buffers section
MUTABLE = bytearray(BLOB[:300_000])
DOUBLES = array.array("d", range(40_000))
TABLE = {f"k{i}": (i, str(i), [i] * 3, {"nested": (i, None)}) for i in range(300)}


def double(x):
    return 2 * x


class Thing:
    def __init__(self, n):
        self.n = n

    def area(self):
        return self.n * self.n


THINGS = [Thing(i) for i in range(50)]

if __name__ == "__main__":
    print(len(BLOB), zlib.crc32(BLOB), zlib.crc32(MUTABLE), sum(DOUBLES), len(TABLE), double(21),
          sum(t.area() for t in THINGS))
"""

# amber run's no-image marker comes from a program that cannot be captured (a running thread).
UNCAPTURABLE = """
import threading, time
WORKER = threading.Thread(target=time.sleep, args=(60,), daemon=True)
WORKER.start()
import amber
if __name__ == "__main__":
    print("uncapturable ran")
"""

# Values a re-signed header field is set to: wrong types, huge and negative numbers, tables that
# point outside the file, deep nesting.
HOSTILE = [None, -1, 0, 2 ** 63, 2 ** 100, 1.5, "x", b"", b"\0" * 32, [], {}, (), [None], {"a": 1},
           [("heap", 0, 2 ** 40, b"\0" * 32)], [("heap", 2 ** 62, 2 ** 62, b"\0" * 32)],
           [("buffers", 0, 10, b"\0" * 32)], [(0, 2 ** 40, True)], [(2 ** 62, 2 ** 62, False)],
           [(0, 10, b"\0" * 32)], [[[[[[[[[[[]]]]]]]]]]], [1] * 1000]


@dataclass
class Input:
    path: str
    what: str  # what was done to it, for the report
    resigned: bool = False
    env: dict = field(default_factory=dict)
    scratch: str | None = None  # what to remove after the run: the path, unless it names another

    def remove(self) -> None:
        target = self.scratch or self.path
        if os.path.isdir(target):
            shutil.rmtree(target, ignore_errors=True)
        elif os.path.exists(target):
            os.unlink(target)


@dataclass
class Target:
    name: str
    make_input: Callable[[random.Random, str], Input]
    command: Callable[[Input], list]
    expect: Callable[[str], bool]  # whether a run's stdout is what the unchanged input gives
    must_run: bool = False  # amber run: whatever the cache holds, the program runs as a cold run would


@dataclass
class Seed:
    """An image the mutations start from, read once."""

    path: str
    data: bytes
    key: bytes
    header: dict = field(init=False)
    hlen: int = field(init=False)
    base: int = field(init=False)  # the launch line's length: the prefix starts there

    def __post_init__(self) -> None:
        self.base = _base(self.data)
        self.hlen = int.from_bytes(self.data[self.base:][fmt.PREFIX["header_length"]], "little")
        at = self.base + fmt.HEADER_AT
        self.header = marshal.loads(self.data[at:at + self.hlen])

    def regions(self) -> list:
        """(name, start, end) of every part of the file, padding and the end included."""
        b = self.base
        parts = [("launch", 0, b), ("prefix", b, b + fmt.SIGNATURE_AT),
                 ("signature", b + fmt.SIGNATURE_AT, b + fmt.HEADER_AT),
                 ("header", b + fmt.HEADER_AT, b + fmt.HEADER_AT + self.hlen)]
        pos = b + fmt.HEADER_AT + self.hlen
        for name, off, length, _dig in sorted(self.header["sections"], key=lambda s: s[1]):
            if off > pos:
                parts.append(("padding", pos, off))
            parts.append((name, off, off + length))
            pos = off + length
        parts.append(("end", pos, len(self.data)))
        return [p for p in parts if p[2] > p[1] or p[0] == "end"]


# --- mutations ----------------------------------------------------------------------------------

def _bytes_op(rng: random.Random, data: bytes, start: int, end: int) -> tuple:
    """(mutated data, what): one byte-level change inside [start, end)."""
    kind = "extend" if start >= len(data) else rng.choice(["flip", "flip", "overwrite", "truncate", "insert"])
    at = rng.randrange(start, max(end, start + 1))
    if kind == "flip":
        out = bytearray(data)
        for _ in range(rng.choice([1, 1, 2, 3])):
            i = rng.randrange(start, max(end, start + 1))
            if i < len(out):
                out[i] ^= 1 << rng.randrange(8)
        return bytes(out), "bit flip"
    if kind == "overwrite":
        n = rng.choice([1, 2, 4, 8, 32])
        junk = rng.choice([bytes(n), b"\xff" * n, rng.randbytes(n)])
        return data[:at] + junk + data[at + n:], f"overwrite {n}"
    if kind == "truncate":
        return data[:at], "truncate"
    if kind == "insert":
        return data[:at] + rng.randbytes(rng.choice([1, 7, 4096])) + data[at:], "insert"
    return data + rng.choice([b"\0" * 5000, rng.randbytes(rng.randrange(1, 9000))]), "extend"


def _span(rng: random.Random, length: int) -> tuple:
    """A part of a file to mutate: mostly small, sometimes all of it, sometimes its end."""
    if length == 0 or rng.random() < 0.2:
        return length, length
    start = rng.randrange(length)
    return start, min(length, start + rng.choice((1, 4, 32, length)))


def _base(data: bytes) -> int:
    """Where the prefix starts: after the launch line, if the image has one (a seed's has)."""
    return fmt.launch_length("seed", data)


def resign(data: bytes, key: bytes, fix_digest: bool = True) -> bytes:
    """``data`` signed again with ``key``: the header's length and digest made to match its bytes
    (unless ``fix_digest`` is off), then the signature block over the launch line, the signed
    prefix and the header."""
    b = _base(data)
    hlen = int.from_bytes(data[b:][fmt.PREFIX["header_length"]], "little")
    blob = data[b + fmt.HEADER_AT:b + fmt.HEADER_AT + hlen]
    signed = bytearray(data[b:b + fmt.SIGNATURE_AT])
    if fix_digest:
        signed[fmt.PREFIX["header_digest"]] = fmt.digest(blob)
    sign = (signing.HMAC_SHA256, signing.key_id(key), lambda message: signing.hmac_sha256(key, message))
    return (data[:b] + bytes(signed) + signing.sign_block(sign, data[:b] + bytes(signed) + blob)
            + data[b + fmt.HEADER_AT:])


def _with_header(data: bytes, old_len: int, blob: bytes) -> bytes:
    """``data`` with its header replaced by ``blob`` (the length field set); the sections stay
    where they were when it is not longer (zeros pad it: the length field says where it ends)."""
    b = _base(data)
    prefix = bytearray(data[b:b + fmt.HEADER_AT])
    prefix[fmt.PREFIX["header_length"]] = len(blob).to_bytes(4, "little")
    padding = bytes(max(old_len - len(blob), 0))
    return data[:b] + bytes(prefix) + blob + padding + data[b + fmt.HEADER_AT + old_len:]


WEIGHTS = {"header": 4, "launch": 1, "prefix": 1, "signature": 1, "padding": 1, "end": 1}  # others: 2


def _hostile_record(seed: Seed, name: str, rng: random.Random) -> bytes:
    """``seed`` with the marshal record of section ``name`` replaced by a hostile value (or by
    the record with one field hostile), its table entry and the signature made to match."""
    data = seed.data
    entries = [list(e) for e in seed.header["sections"]]
    entry = next(e for e in entries if e[0] == name)
    off, length = entry[1], entry[2]
    value = marshal.loads(data[off:off + length])
    if isinstance(value, dict) and value and rng.random() < 0.7:
        value[rng.choice(sorted(value))] = rng.choice(HOSTILE)
    else:
        value = rng.choice(HOSTILE)
    blob = marshal.dumps(value)[:length]  # no longer than the room it has: the sections stay put
    entry[2], entry[3] = len(blob), fmt.digest(blob)
    header = dict(seed.header, sections=[tuple(e) for e in entries])
    out = data[:off] + blob + bytes(length - len(blob)) + data[off + length:]
    return resign(_with_header(out, seed.hlen, marshal.dumps(header)), seed.key)


def mutate_image(seed: Seed, rng: random.Random) -> tuple:
    """(mutated bytes, what, re-signed) of one mutation of ``seed``."""
    data = seed.data
    regions = seed.regions()
    weights = [WEIGHTS.get(name, 2) for name, _start, _end in regions]
    name, start, end = rng.choices(regions, weights)[0]
    if rng.random() < 0.4:  # re-signed: reach the decoders behind the signature
        sections = {n: (o, ln, d) for n, o, ln, d in seed.header["sections"]}
        if name in fmt.SECTION_RECORDS or name == "stats":
            if rng.random() < 0.3:
                return _hostile_record(seed, name, rng), f"re-signed {name}: a hostile record", True
        if name in ("launch", "prefix", "signature", "padding", "end"):
            b = seed.base
            out, what = _bytes_op(rng, data, b + fmt.PREFIX["format"].start, b + fmt.SIGNATURE_AT)
            cut = b + fmt.SIGNATURE_AT
            signed = resign(out[:cut] + data[cut:], seed.key, fix_digest=False)
            return signed, f"re-signed prefix: {what}", True
        if name == "header":
            if rng.random() < 0.5:
                header = marshal.loads(marshal.dumps(seed.header))
                fieldname = rng.choice(sorted(header) + ["sections", "buffers", "lazy_code"])
                header[fieldname] = rng.choice(HOSTILE)
                blob = marshal.dumps(header)
                what = f"re-signed header: {fieldname} = hostile"
            else:
                at = seed.base + fmt.HEADER_AT
                old = data[at:at + seed.hlen]
                blob, what = _bytes_op(rng, old, 0, len(old))
                what = f"re-signed header: {what}"
            return resign(_with_header(data, seed.hlen, blob), seed.key), what, True
        if name in (fmt.HEAP, fmt.LAZY_CODE):  # programs: not re-signed (see the docstring)
            out, what = _bytes_op(rng, data, start, end)
            return out, f"{name}: {what}", False
        # A section's bytes changed in place and its digest in the header fixed.
        out = bytearray(data)
        for _ in range(rng.choice([1, 2, 8])):
            i = rng.randrange(start, end)
            out[i] = rng.randrange(256) if rng.random() < 0.5 else out[i] ^ (1 << rng.randrange(8))
        off, length, old_digest = sections[name]
        new_digest = fmt.section_digest(name, memoryview(bytes(out[off:off + length])))
        at = seed.base + fmt.HEADER_AT
        blob = data[at:at + seed.hlen].replace(old_digest, new_digest)
        out[at:at + seed.hlen] = blob
        return resign(bytes(out), seed.key), f"re-signed {name}: bytes changed, digest fixed", True
    out, what = _bytes_op(rng, data, start, end)
    return out, f"{name}: {what}", False


# --- running and judging ------------------------------------------------------------------------

def judge(target: Target, inp: Input, result) -> str:
    if result is None:
        return "hang"
    code, out, err = result
    if code < 0:
        return "crash"
    if "Traceback (most recent call last)" in err:
        return "traceback"
    if target.must_run:  # at most one warning, and the program's own output and exit code
        warned = [line for line in err.splitlines() if line.startswith("amber: warning:")]
        others = [line for line in err.splitlines() if line.startswith("amber: error:")]
        return "restored" if code == 0 and target.expect(out) and len(warned) <= 1 and not others \
            else "program did not run"
    if code == 0:
        if target.expect(out):
            return "restored"
        return "restored, other output" if inp.resigned else "unverified change"
    lines = err.strip().splitlines()
    if code == 2 and len(lines) == 1 and lines[0].startswith("amber: error: ") and not out:
        return "refused"
    return "bad refusal"


def run_one(cmd: list, env: dict, timeout: float):
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


class Fuzz:
    """The world the targets run in: a work directory, a signing key of its own, the seeds."""

    def __init__(self, work: str) -> None:
        self.work = work
        self.key = os.urandom(16).hex().encode()
        self.env = dict(os.environ, AMBER_KEY=self.key.decode(), XDG_CONFIG_HOME=os.path.join(work, "config"),
                        AMBER_CACHE=os.path.join(work, "cache"), PYTHONDONTWRITEBYTECODE="1")
        self.env.pop("AMBER_KEY_FILE", None)
        script = os.path.join(work, "prog.py")
        with open(script, "w") as f:
            f.write(textwrap.dedent(PROGRAM))
        self.seeds: dict = {}
        self.expected = ""
        for name, flags in (("plain", []), ("lazy", ["--lazy-code"])):
            path = os.path.join(work, f"{name}.amber")
            self._check(AMBER + ["snapshot", *flags, "-o", path, script])
            with open(path, "rb") as f:
                self.seeds[name] = Seed(path, f.read(), self.key)
        self.expected = self._check(AMBER + ["restore", self.seeds["plain"].path])
        assert self._check(AMBER + ["restore", self.seeds["lazy"].path]) == self.expected
        # The record of a passed buffers check (amber.image.remembered): made for a file whose
        # ctime is safely in the past.
        plain = self.seeds["plain"].path
        time.sleep(max(0.0, os.stat(plain).st_ctime + 2.2 - time.time()))
        self._check(AMBER + ["restore", plain])
        records = os.path.join(self.env["AMBER_CACHE"], "verified")
        names = os.listdir(records)
        if len(names) != 1:
            raise SystemExit(f"fuzz: expected one record of a buffers check in {records}, found {names}")
        self.record_name = names[0]
        with open(os.path.join(records, names[0]), "rb") as f:
            self.record = f.read()
        with open(os.path.join(self.env["AMBER_CACHE"], "key"), "rb") as f:
            self.cache_key = f.read()
        self._make_run_caches(script)

    def _make_run_caches(self, script: str) -> None:
        """``amber run``'s cache for two programs: one with an image (built, then restored),
        one that cannot be captured (a no-image marker)."""
        self.run_cache = os.path.join(self.work, "run-cache")
        env = dict(self.env, AMBER_CACHE=self.run_cache)
        self.script, self.uncapturable = script, os.path.join(self.work, "uncapturable.py")
        with open(self.uncapturable, "w") as f:
            f.write(textwrap.dedent(UNCAPTURABLE))
        for prog in (script, script, self.uncapturable):
            p = subprocess.run(AMBER + ["run", "--wait", prog], env=env, capture_output=True, text=True,
                               cwd=self.work,
                               stdin=subprocess.DEVNULL)
            if p.returncode != 0 or "Traceback" in p.stderr:
                raise SystemExit(f"fuzz: amber run {prog} failed:\n{p.stderr}")
        self.run_files = {"image": [], "program": [], "failed": [], "key": []}
        for directory, _dirs, names in os.walk(self.run_cache):
            for name in names:
                kind = ("image" if name.endswith(".amber") else "failed" if name.endswith(".failed")
                        else name if name in ("program", "key") else None)
                if kind is not None and "verified" not in directory:
                    rel = os.path.relpath(os.path.join(directory, name), self.run_cache)
                    self.run_files[kind].append(rel)
        if not all(self.run_files.values()):
            raise SystemExit(f"fuzz: amber run left no {[k for k, v in self.run_files.items() if not v]}")

    def run_cache_input(self, kinds: tuple, script: str) -> Callable[[random.Random, str], Input]:
        """A copy of amber run's cache with one of its files (of ``kinds``) mutated."""
        def make(rng: random.Random, work: str) -> Input:
            cache = tempfile.mkdtemp(prefix="run-cache-", dir=work)
            shutil.copytree(self.run_cache, cache, dirs_exist_ok=True)
            os.chmod(cache, 0o700)
            rel = rng.choice([f for kind in kinds for f in self.run_files[kind]])
            path = os.path.join(cache, rel)
            with open(path, "rb") as f:
                data = f.read()
            if rng.random() < 0.1:
                os.unlink(path)
                what = "removed"
            else:
                data, what = _bytes_op(rng, data, *_span(rng, len(data)))
                with open(path, "wb") as f:
                    f.write(data)
            return Input(script, f"amber run cache, {rel.rsplit('/', 1)[-1]}: {what}",
                         env={"AMBER_CACHE": cache}, scratch=cache)
        return make

    def _check(self, cmd: list) -> str:
        p = subprocess.run(cmd, env=self.env, capture_output=True, text=True, cwd=self.work,
                           stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            raise SystemExit(f"fuzz: setting up failed: {' '.join(cmd)}:\n{p.stderr}")
        return p.stdout

    def image_input(self, seed: str) -> Callable[[random.Random, str], Input]:
        def make(rng: random.Random, work: str) -> Input:
            data, what, resigned = mutate_image(self.seeds[seed], rng)
            fd, path = tempfile.mkstemp(suffix=".amber", dir=work)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            return Input(path, f"{seed} image, {what}", resigned)
        return make

    def record_input(self, rng: random.Random, work: str) -> Input:
        """A cache of its own whose record of the plain image's buffers check is mutated."""
        cache = tempfile.mkdtemp(prefix="cache-", dir=work)
        os.makedirs(os.path.join(cache, "verified"), mode=0o700)
        with open(os.path.join(cache, "key"), "wb") as f:
            f.write(self.cache_key)
        data, what = _bytes_op(rng, self.record, *rng.choice([(0, len(self.record)),
                                                              (len(self.record), len(self.record))]))
        with open(os.path.join(cache, "verified", self.record_name), "wb") as f:
            f.write(data)
        return Input(self.seeds["plain"].path, f"buffers check record, {what}", env={"AMBER_CACHE": cache},
                     scratch=cache)

    def targets(self) -> list:
        def restored(out: str) -> bool:
            return out == self.expected

        def shown(out: str) -> bool:
            return bool(out.strip())

        def shown_json(out: str) -> bool:
            try:
                return isinstance(json.loads(out), dict)
            except ValueError:
                return False

        def restore(i: Input) -> list:
            return AMBER + ["restore", i.path]

        def run(i: Input) -> list:  # --wait: a rebuild ends with the run (no build left behind)
            return AMBER + ["run", "--wait", i.path]

        def inspect(i: Input) -> list:
            return AMBER + ["inspect", i.path]

        def inspect_json(i: Input) -> list:
            return AMBER + ["inspect", "--json", i.path]

        return [
            Target("restore", self.image_input("plain"), restore, restored),
            Target("restore (lazy code)", self.image_input("lazy"), restore, restored),
            Target("inspect", self.image_input("plain"), inspect, shown),
            Target("inspect --json", self.image_input("plain"), inspect_json, shown_json),
            Target("inspect --json (lazy code)", self.image_input("lazy"), inspect_json, shown_json),
            Target("restore (buffers record)", self.record_input, restore, restored),
            Target("run (image, program record, key)",
                   self.run_cache_input(("image", "program", "key"), self.script), run, restored,
                   must_run=True),
            Target("run (no-image marker, key)", self.run_cache_input(("failed", "key"), self.uncapturable),
                   run, lambda out: out == "uncapturable ran\n", must_run=True),
        ]


def fuzz(mutations: int, seed: int = 20261202, jobs: int = 2, timeout: float = 30.0, keep: str | None = None,
         work: str | None = None, out=sys.stdout, by_parts: bool = False) -> dict:
    """Run ``mutations`` mutations; return {target name: Counter of outcomes} and print the table."""
    own = work is None
    work = work or tempfile.mkdtemp(prefix="amber-fuzz-")
    try:
        world = Fuzz(work)
        targets = world.targets()
        rng = random.Random(seed)
        plans = []
        for i in range(mutations):
            target = targets[i % len(targets)]
            plans.append((target, target.make_input(random.Random(rng.getrandbits(64)), work)))
        counts: dict = {t.name: collections.Counter() for t in targets}
        by_part: collections.Counter = collections.Counter()  # (what was mutated, outcome)
        failed = []

        def go(plan):
            target, inp = plan
            env = dict(world.env, **inp.env)
            result = run_one(target.command(inp), env, timeout)
            return target, inp, result, judge(target, inp, result)

        started = time.monotonic()
        with ThreadPoolExecutor(jobs) as pool:
            for target, inp, result, outcome in pool.map(go, plans):
                counts[target.name][outcome] += 1
                by_part[(inp.what.split(", ", 1)[-1].split(":")[0], outcome)] += 1
                if outcome in FAILURES:
                    failed.append((target, inp, result, outcome))
                    if keep:  # with the key that signed it: AMBER_KEY=$(cat DIR/key) amber ... DIR/FILE
                        os.makedirs(keep, exist_ok=True)
                        shutil.copy(inp.path, keep)
                        with open(os.path.join(keep, "key"), "wb") as f:
                            f.write(world.key)
                else:
                    inp.remove()
        _report(counts, failed, mutations, time.monotonic() - started, out)
        if by_parts:
            for (part, outcome), n in sorted(by_part.items()):
                out.write(f"  {part:<28} {outcome:<24} {n}\n")
        return counts
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)


def _report(counts: dict, failed: list, mutations: int, seconds: float, out) -> None:
    outcomes = ["refused", "restored", "restored, other output", *FAILURES]
    width = max(len(n) for n in counts) + 2
    out.write(f"{mutations} mutations in {seconds:.0f} s\n")
    out.write("target".ljust(width) + "  ".join(outcomes) + "\n")
    total: collections.Counter = collections.Counter()
    for name, c in counts.items():
        total.update(c)
        out.write(name.ljust(width) + "  ".join(str(c[o]).rjust(len(o)) for o in outcomes) + "\n")
    out.write("all".ljust(width) + "  ".join(str(total[o]).rjust(len(o)) for o in outcomes) + "\n")
    for target, inp, result, outcome in failed[:20]:
        err = "" if result is None else result[2].strip()[-600:]
        out.write(f"\n{outcome}: {target.name}: {inp.what} ({os.path.basename(inp.path)})\n{err}\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mutations", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds one run may take")
    parser.add_argument("--keep", metavar="DIR", help="copy failing inputs here")
    parser.add_argument("--by-part", action="store_true", help="also count outcomes by the part mutated")
    args = parser.parse_args()
    counts = fuzz(args.mutations, args.seed, args.jobs, args.timeout, args.keep, by_parts=args.by_part)
    return 1 if any(c[o] for c in counts.values() for o in FAILURES) else 0


if __name__ == "__main__":
    sys.exit(main())
