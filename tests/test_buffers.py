"""Large buffers: page-aligned in the image, mapped copy-on-write at restore, shared, never copied
through the pickle stream; their damage is found by --verify-buffers and by amber inspect."""

import json
import sys

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


def test_damaged_buffer_is_found_on_request(image):
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parents[1] / "src"))
    from amber.image import format as fmt

    img = fmt.read_image(str(image.image))
    offset = {n: o for n, o, _l, _d in img.header["sections"]}[fmt.BUFFERS]
    start = img.header["buffers"][0][0]
    img.close()
    raw = bytearray(image.image.read_bytes())
    raw[offset + start + 8] ^= 0xFF
    image.image.write_bytes(bytes(raw))
    checked = run([*AMBER, "restore", "--verify-buffers", str(image.image)])
    assert checked.returncode == 2 and checked.stdout == ""
    assert checked.stderr.strip().splitlines() == [
        f"amber: error: {image.image}: image is damaged (section 'buffers' fails its checksum)"]
    assert "fails its checksum" in run([*AMBER, "inspect", str(image.image)]).stderr
    # Without the flag the buffer is mapped unread: a changed byte is a changed value, no more.
    assert image.restore(check=False).returncode == 0


def test_truncated_buffers_are_refused(image):
    raw = image.image.read_bytes()
    image.image.write_bytes(raw[:-5000])
    p = image.restore(check=False)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.strip() == f"amber: error: {image.image}: image is truncated (section 'buffers' is cut short)"
