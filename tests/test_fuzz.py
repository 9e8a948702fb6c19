"""The bounded form of the fuzz run (``bench/fuzz.py``; the full form: ``python bench/fuzz.py
--mutations 2000``): mutated images (every part, the buffers section included, and re-signed
variants), mutated records of a buffers check, and mutated files of amber run's cache (the
image, the program record, the no-image marker, the key), each through the real command line in
a fresh process: no crash, no traceback, no hang, every refusal one line, no unchecked change
restored, and amber run always runs the program."""

import io
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import fuzz  # noqa: E402


def test_160_mutations_crash_nothing():
    out = io.StringIO()
    counts = fuzz.fuzz(160, seed=20261202, jobs=2, timeout=20.0, out=out)
    report = out.getvalue()
    failures = {name: {o: c[o] for o in fuzz.FAILURES if c[o]} for name, c in counts.items()}
    assert not any(failures.values()), report
    total = sum((c for c in counts.values()), start=fuzz.collections.Counter())
    assert sum(total.values()) == 160
    # The mutations reached both sides: refusals, and restores of inputs whose change is harmless
    # (padding, an appended tail) or re-signed with the fuzz's key.
    assert total["refused"] > 60 and total["restored"] > 20, report
    assert all(sum(c.values()) == 160 // len(counts) for c in counts.values()), report


def test_the_judge_sees_crashes_tracebacks_and_hangs(tmp_path):
    """What the fuzz counts as a failure, from real processes."""
    target = fuzz.Target("t", None, None, lambda out: out == "ok\n")  # type: ignore[arg-type]
    plain, resigned = fuzz.Input(str(tmp_path), "x"), fuzz.Input(str(tmp_path), "x", resigned=True)

    def outcome(code: str, inp=plain, timeout=20.0) -> str:
        return fuzz.judge(target, inp, fuzz.run_one([sys.executable, "-c", code], {}, timeout))

    assert outcome("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)") == "crash"
    assert outcome("1 / 0") == "traceback"
    assert outcome("import time; time.sleep(30)", timeout=1.0) == "hang"
    assert outcome("import sys; sys.exit(2)") == "bad refusal"
    assert outcome("import sys; print('amber: error: a\\nb', file=sys.stderr); sys.exit(2)") == "bad refusal"
    assert outcome("import sys; print('amber: error: no', file=sys.stderr); sys.exit(2)") == "refused"
    assert outcome("print('ok')") == "restored"
    assert outcome("print('changed')") == "unverified change"
    assert outcome("print('changed')", resigned) == "restored, other output"
