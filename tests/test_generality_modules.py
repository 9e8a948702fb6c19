"""Generality of what sys.modules holds, through the command line, each restore in a fresh process.

Found by the fidelity harness (fidelity/suites.py, anyio's suite through trustme and
cryptography): an object that claims to be a module through ``__class__`` but is not one (a cffi
library, which cffi also registers in ``sys.modules``) is found by name in the module imported
again that holds it, never captured by value; and what the import system caches on a module
imported again (``__path__`` in the dict of a module whose class caches what its
``__getattr__`` returns) is the fresh import's, not a difference. Also from the harness
(SQLAlchemy): a class's ``__slots__`` given as one name stays that string.
"""

import textwrap

from conftest import AMBER, run


def write_package(root, name: str, files: dict) -> None:
    pkg = root / name
    pkg.mkdir()
    for filename, source in files.items():
        (pkg / filename).write_text(textwrap.dedent(source))


def test_an_object_claiming_to_be_a_module_is_found_by_name(program, tmp_path):
    # claimlib.lib says it is a module (isinstance passes, as for a cffi Lib) and cannot be
    # reduced; claimlib is imported again (--reimport), which makes a new one and registers it
    # in sys.modules as claimlib.lib. Judged by isinstance, it was taken for a submodule and
    # captured by value, and the snapshot was refused.
    write_package(tmp_path, "claimlib", {"__init__.py": '''
        import sys, types

        class Lib:
            __class__ = property(lambda self: types.ModuleType)

            def __reduce_ex__(self, protocol):
                raise TypeError("a library of C functions cannot be saved")

        lib = Lib()
        lib.token = object()
        sys.modules[__name__ + ".lib"] = lib
    '''})
    p = program('''
        import sys
        import claimlib
        from claimlib import lib
        HELD = {"lib": lib}
        if __name__ == "__main__":
            print(isinstance(lib, type(sys)), type(lib).__name__)
            print(HELD["lib"] is lib is claimlib.lib is sys.modules["claimlib.lib"])
    ''')
    cold = p.cold(check=True)
    run([*AMBER, "snapshot", "--reimport", "claimlib", "-o", str(p.image), str(p.script)], cwd=p.dir, check=True)
    restored = p.restore()
    assert restored.stdout == cold.stdout == "True Lib\nTrue\n"


def test_what_a_caching_module_wrapper_caches_of_the_import_system_is_not_a_difference(program, tmp_path):
    # The package replaces itself in sys.modules with a wrapper whose __getattr__ caches what it
    # forwards in its own dict (cryptography's deprecation wrapper): reading __path__ puts it
    # there. A fresh import has no __path__ in the wrapper's dict until something reads it; the
    # verifier refused the image. The other attributes cached are set again as before.
    write_package(tmp_path, "wrapped", {"__init__.py": '''
        import sys, types

        VALUE = 41

        class Wrapper(types.ModuleType):
            def __init__(self, module):
                super().__init__(module.__name__)
                self.__dict__["_module"] = module

            def __getattr__(self, name):
                value = getattr(self._module, name)
                self.__dict__[name] = value
                return value

        sys.modules[__name__] = Wrapper(sys.modules[__name__])
    ''', "late.py": "ANSWER = 42\n"})
    p = program('''
        import sys
        import wrapped
        SEARCHED = len(wrapped.__path__)
        FOUND = wrapped.VALUE
        if __name__ == "__main__":
            print(type(wrapped).__name__, sorted(k for k in vars(wrapped) if not k.startswith("__")))
            print(SEARCHED, FOUND)
            import wrapped.late
            print(wrapped.late.ANSWER)
    ''')
    cold = p.cold(check=True)
    run([*AMBER, "snapshot", "--reimport", "wrapped", "-o", str(p.image), str(p.script)], cwd=p.dir, check=True)
    restored = p.restore()
    assert restored.stdout == cold.stdout == "Wrapper ['VALUE', '_module']\n1 41\n42\n"


def test_slots_given_as_one_name_stay_a_string(program):
    # SQLAlchemy's loader strategies (found by the fidelity harness): `__slots__ = "join_depth"`
    # came back as ('join_depth',), the verifier refused it, and SQLAlchemy was imported again
    # at restore. The class statement's own value is the class's entry again.
    p = program('''
        class Strategy:
            __slots__ = "join_depth"

            def __init__(self):
                self.join_depth = 3

        class Listed:
            __slots__ = ["a", "b"]

        s = Strategy()
        if __name__ == "__main__":
            print(repr(Strategy.__slots__), repr(Listed.__slots__), s.join_depth, hasattr(s, "__dict__"))
    ''')
    cold = p.cold(check=True)
    p.snapshot()
    restored = p.restore()
    assert restored.stdout == cold.stdout == "'join_depth' ['a', 'b'] 3 False\n"


def test_a_function_given_a_class_namespace_by_update_wrapper(program):
    # pyparsing's pep8 aliases (found by the fidelity harness): update_wrapper(make, Impl)
    # copies the ABC's namespace, _abc_impl included, into the function's __dict__; a restore
    # sets _abc_impl after the others, and the verifier compared the order of the names.
    p = program('''
        import abc, functools

        class Base(abc.ABC):
            @abc.abstractmethod
            def f(self): ...

        class Impl(Base):
            """An implementation."""
            def __init__(self, n=1):
                self.n = n

            def f(self):
                return self.n

        def make(*args, **kwargs):
            return Impl(*args, **kwargs)

        functools.update_wrapper(make, Impl)
        if __name__ == "__main__":
            print(sorted(make.__dict__), make(3).f(), make.__wrapped__ is Impl)
    ''')
    cold = p.cold(check=True)
    p.snapshot()
    restored = p.restore()
    assert restored.stdout == cold.stdout
    assert cold.stdout.endswith("'_abc_impl', 'f'] 3 True\n")
