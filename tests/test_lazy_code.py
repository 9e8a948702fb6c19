"""amber snapshot --lazy-code (experimental): functions get their code on first call. The
program sees the same names, signatures, docstrings, sources and results; the code of a module
is unmarshalled when one of its functions first runs (docs/lazy-restore.md)."""

import sys

from conftest import AMBER, run

PROGRAM = '''
import inspect

def plain(a, b=2, *args, c, d=4, **kw):
    "plain doc"
    return (a, b, args, c, d, kw)

def posonly(x, /, y):
    return x - y

class K:
    def method(self, v):
        """method doc"""
        return v * 2
    @staticmethod
    def st(z): return z + 1
    @classmethod
    def cm(cls, q): return (cls.__name__, q)

def gen(n):
    yield from range(n)

def outer():
    free = 5
    def inner(): return free
    return inner
CLOSURE = outer()

def boom():
    raise ValueError("boom")

if __name__ == "__main__":
    import sys
    # Module-level code here: calling a function of this module would fetch the module's code.
    before = ("__amber_code__" in plain.__code__.co_names, "__amber_code__" in gen.__code__.co_names,
              "__amber_code__" in CLOSURE.__code__.co_names)
    print(inspect.signature(plain), plain.__doc__, plain.__name__, plain.__qualname__, plain.__code__.co_name)
    print(plain(1, c=3), plain(1, 2, 9, c=3, e=5), posonly(5, y=2), K().method(4), K.method.__doc__, K.st(1), K.cm(2))
    print(list(gen(3)), CLOSURE(), inspect.getsource(posonly).strip().splitlines()[0], inspect.signature(K.method))
    try:
        boom()
    except ValueError as e:
        print("caught", e)
    after = ("__amber_code__" in plain.__code__.co_names, "__amber_code__" in gen.__code__.co_names,
             "__amber_code__" in CLOSURE.__code__.co_names, "__amber_code__" in K.st.__code__.co_names)
    print("stubbed before/after first call:", before, after, file=sys.stderr)
'''


def test_lazy_code_behaves_like_cold(program):
    p = program(PROGRAM)
    cold = p.cold()
    assert cold.returncode == 0, cold.stderr
    run([*AMBER, "snapshot", "--lazy-code", "-o", str(p.image), str(p.script)], cwd=p.dir, check=True)
    restored = p.restore()
    assert restored.stdout == cold.stdout
    # Plain functions started with a stub and have their real code once one function of their
    # module was called; generators and closures were never stubbed.
    assert "stubbed before/after first call: (True, False, False) (False, False, False, False)" in restored.stderr
    assert "(False, False, False) (False, False, False, False)" in cold.stderr


def test_damaged_lazy_code_is_refused_by_inspect_and_on_first_call(program):
    p = program(PROGRAM)
    run([*AMBER, "snapshot", "--lazy-code", "-o", str(p.image), str(p.script)], cwd=p.dir, check=True)
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parents[1] / "src"))
    from amber.image import format as fmt

    img = fmt.read_image(str(p.image))
    offset = {n: o for n, o, _l, _d in img.header["sections"]}[fmt.LAZY_CODE]
    table = img.header[fmt.LAZY_CODE]
    img.close()
    raw = bytearray(p.image.read_bytes())
    for start, length, _digest in table:  # every module's code (which blob is __main__'s varies)
        raw[offset + start + length // 2] ^= 0xFF
    p.image.write_bytes(bytes(raw))
    inspected = run([*AMBER, "inspect", str(p.image)])
    assert inspected.returncode == 2 and "section 'lazy_code' fails its checksum" in inspected.stderr
    restored = p.restore(check=False)
    assert restored.returncode == 2
    assert restored.stderr.strip().splitlines()[-1] == (
        f"amber: error: {p.image}: image is damaged (code of a module fails its checksum)")
