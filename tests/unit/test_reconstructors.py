"""The names the heap program calls exist: every reconstructor and every ``named(module, qualname)``
written in the capture side resolves to an object, and every recipe step has a compiler method.

An image names functions by string (STACK_GLOBAL); a typo would only show at restore, in a
fresh process, for the one program that takes that path. This layer catches it in-process.
"""

import ast
import importlib
import pathlib

import pytest

CAPTURE = pathlib.Path(__file__).resolve().parents[2] / "src" / "amber" / "capture"
RESTORE_MODULES = {"rebuild": "amber.restore.rebuild", "lazy": "amber.restore.lazy", "tls": "amber.restore.tls",
                   "contexts": "amber.restore.contexts", "replay": "amber.restore.replay",
                   "secrecy": "amber.secrecy", "sqlite_connections": "amber.restore.sqlite_connections",
                   "libraries": "amber.restore.libraries"}


def _calls(func_name: str):
    for path in sorted(CAPTURE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == func_name:
                yield path.relative_to(CAPTURE), node


def _resolve(module: str, qualname: str):
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def test_every_reconstructor_exists_on_the_restore_side():
    seen = 0
    for where, call in _calls("reconstructor"):
        (arg,) = call.args
        assert isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name), \
            f"{where}:{call.lineno}: reconstructor() takes a function of a restore module by attribute"
        module = RESTORE_MODULES.get(arg.value.id)
        assert module is not None, f"{where}:{call.lineno}: {arg.value.id} is not a restore-side module"
        assert callable(_resolve(module, arg.attr)), f"{where}:{call.lineno}: {module}.{arg.attr}"
        seen += 1
    assert seen >= 25  # the capture side names this many; fewer means the scan missed them


def test_every_literal_name_resolves():
    seen = 0
    for where, call in _calls("named"):
        if not all(isinstance(a, ast.Constant) for a in call.args):
            continue  # computed names (a builtin base's __new__) are checked where they are made
        module, qualname = (a.value for a in call.args)
        try:
            _resolve(module, qualname)
        except (ImportError, AttributeError) as e:
            pytest.fail(f"{where}:{call.lineno}: named({module!r}, {qualname!r}) does not resolve: {e}")
        seen += 1
    assert seen >= 15


def test_reconstructor_names_the_function_it_is_given():
    from amber.capture.reduce.recipes import named, reconstructor
    from amber.restore import rebuild

    g = reconstructor(rebuild.make_class)
    assert (g.module, g.qualname) == ("amber.restore.rebuild", "make_class")
    assert g is named("amber.restore.rebuild", "make_class")  # interned: identity is equality
    assert _resolve(g.module, g.qualname) is rebuild.make_class


def test_every_step_kind_has_a_compiler_method():
    from amber.capture.compile.compiler import HeapCompiler
    from amber.capture.reduce import recipes as R

    def leaves(base):
        for cls in base.__subclasses__():
            if not cls.__name__.startswith("_"):
                yield cls
            yield from leaves(cls)

    makes = set(leaves(R.Make))
    fills = set(leaves(R.Fill))
    assert makes and fills
    assert makes == set(HeapCompiler._MAKERS), makes ^ set(HeapCompiler._MAKERS)
    assert fills == set(HeapCompiler._FILLERS), fills ^ set(HeapCompiler._FILLERS)
