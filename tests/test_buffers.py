"""Large buffers: page-aligned in the image, mapped copy-on-write at restore, shared, never copied
through the pickle stream; a changed byte is refused by every restore (the buffers' tree digest,
checked once per file identity) and by amber inspect."""

import contextlib
import io
import json
import os
import pickle
import sys
import time

import pytest
from conftest import AMBER, run

np = pytest.importorskip("numpy")

APP = """
import array, os
import numpy as np

big = np.arange(1 << 20, dtype=np.float64)          # 8 MiB, writable
frozen = np.full(300_000, 3, dtype=np.int32)         # 1.2 MB, read-only
frozen.setflags(write=False)
small = np.arange(10)                               # stays in the heap section
blob = bytes(range(256)) * 2048                     # 512 KiB bytes
shared_blob = (blob, blob)                          # one object, referenced twice
mutable = bytearray(blob)
doubles = array.array("d", range(100_000))
view = memoryview(blob)

if __name__ == "__main__":
    mapped = any("{image}" in line for line in open("/proc/self/maps")) if os.path.exists("/proc/self/maps") else True
    print(float(big.sum()), big.flags.writeable, frozen.flags.writeable, int(frozen.sum()),
          int(small.sum()), blob[-3:], shared_blob[0] is shared_blob[1] is blob, mutable[:2],
          doubles[-1], bytes(view[10:20]), view.obj is blob)
    big[0] = 42.0
    mutable[0] = 99
    print(big[:2], mutable[:2], "mapped" if mapped else "NOT MAPPED")
"""


@pytest.fixture
def image(program, tmp_path):
    p = program(APP.replace("{image}", str(tmp_path / "prog.amber")))
    p.snapshot()
    return p


def test_large_buffers_are_mapped_and_behave_like_cold(image):
    cold = image.cold(check=True).stdout.replace("NOT MAPPED", "mapped")
    first = image.restore().stdout
    assert first == cold
    assert first.splitlines()[1].endswith(" mapped")
    # Writes went to private copies of the pages: the image still holds the snapshot's values.
    assert image.restore().stdout == first


def test_buffers_are_page_aligned_in_the_file(image):
    d = json.loads(run([*AMBER, "inspect", "--json", str(image.image)], check=True).stdout)
    assert d["mapped_buffers"]["count"] == 5  # big, frozen, blob, mutable, doubles' bytes
    assert d["mapped_buffers"]["bytes"] >= 8 << 20
    assert d["sections"]["heap"] < 200_000  # the buffers are not in the pickle stream
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parents[1] / "src"))
    from amber.image import format as fmt

    img = fmt.read_image(str(image.image))
    offset = {n: o for n, o, _l, _d in img.header["sections"]}[fmt.BUFFERS]
    assert all((offset + start) % 4096 == 0 for start, _size, _ro in img.header["buffers"])
    assert len(img.data) <= offset  # reading an image reads everything but the buffers
    img.close()


def _buffers_offset(image_path) -> tuple:
    """(offset of the buffers section in the file, the buffers table)."""
    from amber.image import format as fmt

    img = fmt.read_image(str(image_path))
    offset = {n: o for n, o, _l, _d in img.header["sections"]}[fmt.BUFFERS]
    table = img.header["buffers"]
    img.close()
    return offset, table


def _flip(path, at: int) -> None:
    """Change one byte of the file in place (same inode: as a writer into the image would)."""
    with open(path, "r+b") as f:
        f.seek(at)
        byte = f.read(1)
        f.seek(at)
        f.write(bytes([byte[0] ^ 0xFF]))


def test_a_changed_buffer_byte_is_refused_by_default(image):
    """One changed byte inside the buffers section of a correctly signed image (the signature and
    the header are untouched: it is the buffers' own digest that refuses it): every restore
    refuses it with one line and exit code 2, with or without --verify-buffers, and so does
    amber inspect."""
    offset, table = _buffers_offset(image.image)
    _flip(image.image, offset + table[0][0] + 8)
    expected = [f"amber: error: {image.image}: image is damaged (section 'buffers' fails its checksum)"]
    for flags in ([], ["--verify-buffers"]):
        p = run([*AMBER, "restore", *flags, str(image.image)], cwd=image.dir)
        assert (p.returncode, p.stdout, p.stderr.strip().splitlines()) == (2, "", expected), flags
    p = run([*AMBER, "inspect", str(image.image)])
    assert p.returncode == 2 and p.stderr.strip().splitlines() == expected


PICKLED = """
import pickle
KEPT = pickle.dumps(list(range(100_000)), protocol=2)   # kept as bytes: over MAPPED_MIN, mapped
assert len(KEPT) > 256 * 1024

if __name__ == "__main__":
    print(len(pickle.loads(KEPT)))
"""


def test_a_pickle_kept_as_bytes_cannot_be_turned_into_code(program, tmp_path):
    """The attack of issue 11: a pickle the program keeps as a large bytes object lies in the
    mapped buffers section; rewriting its first bytes into a pickle that calls a function would
    run that function when the program loads it. The restore refuses the image instead."""
    p = program(PICKLED)
    p.snapshot()
    assert p.restore().stdout == "100000\n"
    offset, table = _buffers_offset(p.image)
    evil = b"cbuiltins\nprint\n(S'PWNED'\ntR."  # print('PWNED'); the rest of the bytes is never read
    with open(p.image, "r+b") as f:
        f.seek(offset + table[0][0])
        f.write(evil)
    # What the program would have loaded: the changed bytes are a pickle that calls print.
    from amber.image import format as fmt

    img = fmt.read_image(str(p.image))
    kept = bytes(img.buffers()[0])  # unchecked: what mapping without the check handed the heap
    img.close()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        pickle.loads(kept)
    assert out.getvalue() == "PWNED\n"
    r = p.restore(check=False)
    assert "PWNED" not in r.stdout
    assert (r.returncode, r.stderr.strip().splitlines()) == (
        2, [f"amber: error: {p.image}: image is damaged (section 'buffers' fails its checksum)"])


RSS = """
import numpy as np
BIG = np.arange(8 << 20, dtype=np.float32)   # 32 MiB in the buffers section

if __name__ == "__main__":
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    print(int(fields["RssFile"].split()[0]) // 1024, float(BIG[-1]))   # MiB of file pages mapped in
"""


def test_a_passed_check_is_remembered_for_that_file_only(program, tmp_path):
    """The first restore hashes the buffers (every page of them is read: the process's file-backed
    resident memory holds them); the check that passed is remembered for that very file, so the
    next restore maps them unread. A change in place (a new ctime), a forged record, or
    --verify-buffers bring the full check back; a changed byte is never hidden by a record."""
    p = program(RSS)
    p.snapshot()
    cache = tmp_path / "cache"
    env = {"AMBER_CACHE": str(cache)}

    def resident_mib(*flags) -> int:
        r = run([*AMBER, "restore", *flags, str(p.image)], cwd=tmp_path, env=env, check=True)
        mib, last = r.stdout.split()
        assert float(last) == float((8 << 20) - 1)
        return int(mib)

    time.sleep(2.2)  # a check is remembered only for a file whose ctime is safely in the past
    assert resident_mib() >= 32  # checked: all of it was read
    records = list((cache / "verified").iterdir())
    assert len(records) == 1 and oct(records[0].stat().st_mode & 0o777) == "0o600"
    assert resident_mib() < 24  # remembered: mapped, not read
    assert resident_mib("--verify-buffers") >= 32  # checked again on request
    records[0].write_bytes(records[0].read_bytes()[:-1] + b"!")  # a forged (or damaged) record
    assert resident_mib() >= 32  # is no record: checked, and remembered anew
    assert resident_mib() < 24
    offset, table = _buffers_offset(p.image)
    _flip(p.image, offset + table[0][0] + 100)  # in place: same inode, new ctime
    r = run([*AMBER, "restore", str(p.image)], cwd=tmp_path, env=env)
    assert (r.returncode, r.stdout, r.stderr.strip().splitlines()) == (
        2, "", [f"amber: error: {p.image}: image is damaged (section 'buffers' fails its checksum)"])


def test_an_image_others_can_write_is_read_not_mapped_and_never_remembered(image, tmp_path):
    """Someone else who can write the file could change a mapped page after the check, so such an
    image is read into the process's own memory (not mapped) and checked on every restore."""
    cache = tmp_path / "cache"
    env = {"AMBER_CACHE": str(cache)}
    os.chmod(image.image, 0o622)
    time.sleep(2.2)  # its ctime safely in the past: only the mode keeps the check from being remembered
    r = run([*AMBER, "restore", str(image.image)], cwd=image.dir, env=env, check=True)
    assert r.stdout.splitlines()[1].endswith("NOT MAPPED")
    assert not (cache / "verified").exists() or not list((cache / "verified").iterdir())
    os.chmod(image.image, 0o600)
    time.sleep(2.2)
    r = run([*AMBER, "restore", str(image.image)], cwd=image.dir, env=env, check=True)
    assert r.stdout.splitlines()[1].endswith(" mapped")
    assert len(list((cache / "verified").iterdir())) == 1


def test_truncated_buffers_are_refused(image):
    raw = image.image.read_bytes()
    image.image.write_bytes(raw[:-5000])
    p = image.restore(check=False)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.strip() == f"amber: error: {image.image}: image is truncated (section 'buffers' is cut short)"


def test_the_remembered_check_imports_only_the_base_set():
    """amber.image.remembered is on the restore path (imported when an image has buffers)."""
    src = str(__import__("pathlib").Path(__file__).resolve().parents[1] / "src")
    base = set(run([*AMBER, "inspect", "--base-set"], check=True).stdout.split())
    code = ("import sys; before = set(sys.modules); import amber.image.remembered as r; "
            "r.Check(__import__('posix').stat(sys.executable), (0, 0, b'')).holds(); "
            "print(' '.join(sorted(set(sys.modules) - before)))")
    loaded = set(run([sys.executable, "-I", "-S", "-c", f"import sys; sys.path.insert(0, {src!r}); {code}"],
                     check=True, env={"AMBER_CACHE": "/nonexistent/amber-cache"}).stdout.split())
    assert "amber.image.remembered" in loaded and "amber.runcache.keys" in loaded
    extra = {name for name in loaded - base if not name.startswith(("amber.runcache", "amber.image.remembered"))}
    assert not extra, extra
