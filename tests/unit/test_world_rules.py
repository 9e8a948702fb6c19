"""Fast layer: which modules are imported again at restore (amber.capture.world.rules), in-process.

Every rule of ``World`` is checked on synthetic module objects (fake file names, fake extension
``.so`` paths, a ctypes structure class) with a fake import recorder and a fake probe in place
of the fresh interpreter, so no subprocess runs.
"""

import ctypes
import importlib
import importlib.machinery
import sys
import types

import pytest

from amber.capture.world.fingerprint import fingerprint, namespace_fingerprint
from amber.capture.world.rules import PER_PROCESS_MODULES, ByRef, Reason, World, is_extension

SO = ".cpython-311-x86_64-linux-gnu.so"


def fake_module(name, *, file=None, package=False, loader=None, no_file=False, **attrs):
    m = types.ModuleType(name)
    if not no_file:
        m.__file__ = file or f"/fake/site/{name.replace('.', '/')}{'/__init__' if package else ''}.py"
    m.__spec__ = importlib.machinery.ModuleSpec(name, loader, origin=None if no_file else m.__file__,
                                                is_package=package)
    if package:
        m.__path__ = [f"/fake/site/{name.replace('.', '/')}"]
    for k, v in attrs.items():
        setattr(m, k, v)
    return m


def ext_module(name, **attrs):
    return fake_module(name, file=f"/fake/site/{name.replace('.', '/')}{SO}", **attrs)


class FakeImports:
    """What World reads of the ImportRecorder: the order imports started, the namespaces right
    after import, and which attributes the program changed since."""

    def __init__(self, order=(), after_import=None, changed=None, members=None, instances=None):
        self.order = list(order)
        self.after_import = after_import or {}
        self._changed = changed or {}
        self._members = members or {}
        self._instances = instances or {}
        self.instances_after_import: dict = {}
        self.asked = []

    def members_changed_since_import(self, name):
        return dict(self._members.get(name, {}))

    def instances_changed_since_import(self, name):
        return dict(self._instances.get(name, {}))

    def unchanged_instance_attrs(self, name, path, obj):
        return set()

    def changed_since_import(self, name, attrs):
        self.asked.append((name, list(attrs)))
        return [a for a in attrs if a in self._changed.get(name, ())]

    def changed_since_start_up(self, name, attrs):
        return list(attrs)  # no module here is the interpreter's start-up's


class FakeProbe:
    """Stands for the fresh interpreter: ``loaded[name]`` is what importing the name adds (the
    name itself when not given), ``failed`` the names whose import raises, ``fingerprints``
    what :meth:`describe` finds. Like the real one, it holds what it imported: a name is added
    once."""

    def __init__(self, loaded=None, failed=None, fingerprints=None, members=None):
        self.loaded = loaded or {}
        self.failed = failed or {}
        self.fingerprints = fingerprints or {}
        self.members = members or {}
        self.calls = []
        self.described = []
        self.held = set()

    def __call__(self, names):
        self.calls.append(list(names))
        loaded = {}
        for name in names:
            added = [n for n in self.loaded.get(name, [name]) if n not in self.held]
            self.held.update(added)
            loaded[name] = added
        return {"loaded": loaded, "failed": {s: why for s, why in self.failed.items() if s in names}}

    def describe(self, names, members):
        self.described.append((list(names), {k: list(v) for k, v in members.items()}))
        return {"modules": {n: self.fingerprints[n] for n in names if n in self.fingerprints},
                "members": {n: {m: self.members[n][m] for m in ms if m in self.members.get(n, {})}
                            for n, ms in members.items()}}


def never_called(seeds):
    raise AssertionError(f"the probe ran for {seeds}")


def make_world(modules, *, base=(), baseline=None, reimport=(), imports=None, probe=None):
    mods = {}
    for m in modules:
        if isinstance(m, tuple):
            mods[m[0]] = m[1]
        else:
            mods[m.__name__] = m
    imports = imports if imports is not None else FakeImports(order=list(mods))
    return World(mods, set(base), baseline or {}, set(reimport), imports, probe or FakeProbe())


def reasons(world):
    return {name: why.reason for name, why in world.by_ref.items()}


# == is_extension =================================================================================

def test_is_extension_by_file_name():
    assert is_extension(ext_module("fast"))
    assert is_extension(fake_module("win", file="C:/x/win.pyd"))
    assert not is_extension(fake_module("pure"))
    assert not is_extension(fake_module("compiled", file="/fake/compiled.pyc"))


def test_is_extension_by_loader():
    loader = importlib.machinery.ExtensionFileLoader("odd", "/fake/odd.bin")
    assert is_extension(fake_module("odd", file="/fake/odd.bin", loader=loader))
    assert is_extension(fake_module("bi", no_file=True, loader=importlib.machinery.BuiltinImporter))
    src_loader = importlib.machinery.SourceFileLoader("src", "/fake/src.py")
    assert not is_extension(fake_module("src", loader=src_loader))


def test_is_extension_without_a_file():
    assert is_extension(fake_module("itertools", no_file=True))  # a builtin module's name
    assert not is_extension(fake_module("namespace_pkg", no_file=True))


# == the rules, one at a time =====================================================================

def test_nothing_to_seed_means_no_probe_and_everything_by_value():
    w = make_world([fake_module("app"), fake_module("app.models"), fake_module("lib")], probe=never_called)
    assert w.by_ref == {} and w.failed == {} and w.import_order() == []


def test_base_set_and_its_packages():
    probe = FakeProbe()
    w = make_world([fake_module("encodings", package=True), fake_module("encodings.utf_8"),
                    fake_module("encodings.idna"), fake_module("codecs"), fake_module("app")],
                   base={"encodings", "encodings.utf_8", "codecs"}, probe=probe)
    assert reasons(w) == {"encodings": Reason.BASE_SET, "encodings.utf_8": Reason.BASE_SET,
                          "codecs": Reason.BASE_SET, "encodings.idna": Reason.IN_BASE_PACKAGE}
    assert str(w.by_ref["encodings.idna"]) == "part of the base-set package encodings"
    assert str(w.by_ref["codecs"]) == "base set"
    assert w.import_order() == ["encodings.idna"]  # the base set is already there at restore
    assert probe.calls == [["encodings.idna"]]  # what it imports is asked about, as a seed's is


def test_amber_itself():
    w = make_world([fake_module("amber", package=True), fake_module("amber.capture"),
                    fake_module("amberlike"), fake_module("amber_tools")], probe=never_called)
    assert reasons(w) == {"amber": Reason.AMBER, "amber.capture": Reason.AMBER}
    assert str(w.by_ref["amber"]) == "Amber itself"
    assert w.import_order() == []  # the restore path has it already


def test_extension_seed():
    probe = FakeProbe()
    w = make_world([fake_module("app"), ext_module("_speedups")], probe=probe)
    assert reasons(w) == {"_speedups": Reason.EXTENSION}
    assert str(w.by_ref["_speedups"]) == "extension module"
    assert probe.calls == [["_speedups"]]


@pytest.mark.parametrize("name", PER_PROCESS_MODULES)
def test_per_process_modules(name):
    w = make_world([fake_module(name), fake_module("app")])
    assert w.by_ref[name].reason is Reason.PER_PROCESS
    assert str(w.by_ref[name]) == "describes the running process"
    assert "app" not in w.by_ref


def test_per_process_list_is_the_documented_one():
    assert set(PER_PROCESS_MODULES) == {"os", "threading", "random", "tempfile", "multiprocessing.process"}


def test_reimport_takes_the_whole_top_level_package():
    w = make_world([fake_module("cfg", package=True), fake_module("cfg.loader"), fake_module("cfgx"),
                    fake_module("solo")], reimport={"cfg", "solo"})
    assert reasons(w) == {"cfg": Reason.ASKED, "cfg.loader": Reason.ASKED, "solo": Reason.ASKED}
    assert str(w.by_ref["cfg.loader"]) == "asked to (reimport)"


def test_reimport_of_a_submodule_name():
    w = make_world([fake_module("pkg", package=True), fake_module("pkg.sub"), fake_module("pkg.other")],
                   reimport={"pkg.sub"})
    # The submodule is asked for; its package is then imported again whole.
    assert reasons(w) == {"pkg.sub": Reason.ASKED, "pkg": Reason.IN_PACKAGE, "pkg.other": Reason.IN_PACKAGE}


class Point(ctypes.Structure):
    __module__ = "geometry"
    _fields_ = [("x", ctypes.c_int), ("y", ctypes.c_int)]


class Meta(type):
    pass


class WithMeta(metaclass=Meta):
    __module__ = "metaclassy"


def test_c_metaclass_seed():
    w = make_world([fake_module("geometry", Point=Point, n=3)])
    assert w.by_ref["geometry"].reason is Reason.C_METACLASS
    assert w.by_ref["geometry"].details == ("Point", "_ctypes.PyCStructType")
    assert str(w.by_ref["geometry"]) == "defines Point with a metaclass implemented in C (_ctypes.PyCStructType)"


def test_c_metaclass_counts_only_classes_the_module_defines():
    # ``geometry.Point`` imported into another module does not make that module a seed, and a
    # Python metaclass (or ABCMeta) is no reason either.
    import abc

    class Base(abc.ABC):
        __module__ = "abstract"

        @abc.abstractmethod
        def run(self): ...

    w = make_world([fake_module("user", Point=Point), fake_module("metaclassy", WithMeta=WithMeta),
                    fake_module("abstract", Base=Base)], probe=never_called)
    assert w.by_ref == {}


def test_simple_ctypes_subclass_is_a_c_metaclass_too():
    class Handle(ctypes.c_void_p):
        __module__ = "handles"

    w = make_world([fake_module("handles", Handle=Handle)])
    assert w.by_ref["handles"].details == ("Handle", "_ctypes.PyCSimpleType")


def test_first_module_to_name_an_unnamed_c_type():
    # types.FrameType is "builtins.frame", which builtins does not export and a restore cannot
    # derive: the first module (in import order) that gives it a name is imported again so that
    # the name exists at restore. sys.modules order: later, first, third; import order: first,
    # later, third.
    imports = FakeImports(order=["first", "later", "third"])
    w = make_world([fake_module("later", Frame=types.FrameType), fake_module("first", FrameType=types.FrameType),
                    fake_module("third", F=types.FrameType)], imports=imports)
    assert reasons(w) == {"first": Reason.NAMES_C_TYPE}
    assert str(w.by_ref["first"]) == "gives a C type its only name (FrameType = builtins.frame)"


def test_a_c_type_a_restore_derives_needs_no_holder():
    # types.CellType ("builtins.cell") is re-derived at restore (amber._compat.UNEXPORTED_TYPES):
    # a module naming it is not imported again for it.
    w = make_world([fake_module("mytypes", CellType=types.CellType, MethodType=types.MethodType)],
                   probe=never_called)
    assert w.by_ref == {}


def test_a_c_type_named_by_the_base_set_needs_no_holder():
    w = make_world([fake_module("mytypes", CellType=types.CellType), fake_module("holder", C=types.CellType)],
                   base={"mytypes"}, probe=never_called)
    assert reasons(w) == {"mytypes": Reason.BASE_SET}


def test_exported_c_types_need_no_holder():
    w = make_world([fake_module("uses", I=int, D=dict, OD=__import__("collections").OrderedDict)],
                   probe=never_called)
    assert w.by_ref == {}


# == the closure, through the probe ===============================================================

def test_what_a_seed_imports_is_imported_again():
    probe = FakeProbe(loaded={"_speedups": ["_speedups", "helper", "helper.sub", "not_in_this_process"]})
    w = make_world([fake_module("app"), fake_module("helper", package=True), fake_module("helper.sub"),
                    ext_module("_speedups"), fake_module("unrelated")], probe=probe)
    assert reasons(w) == {"_speedups": Reason.EXTENSION, "helper": Reason.IMPORTED_BY_SEED,
                          "helper.sub": Reason.IMPORTED_BY_SEED}
    assert str(w.by_ref["helper.sub"]) == "imported by _speedups when that is imported again"
    # Modules the probe loaded that this process never had are not in the world.
    assert "not_in_this_process" not in w.by_ref


def test_a_seed_keeps_its_own_reason_when_another_seed_imports_it():
    probe = FakeProbe(loaded={"os": ["os", "_ext"], "_ext": ["_ext"]})
    w = make_world([fake_module("os"), ext_module("_ext")], probe=probe)
    assert w.by_ref["_ext"].reason is Reason.EXTENSION
    assert w.by_ref["os"].reason is Reason.PER_PROCESS


def test_probe_is_asked_for_seeds_in_first_import_order():
    probe = FakeProbe()
    imports = FakeImports(order=["c_ext", "app", "b_ext", "c_ext", "a_ext"])  # c_ext started twice
    w = make_world([ext_module("a_ext"), ext_module("b_ext"), ext_module("c_ext"), fake_module("app")],
                   imports=imports, probe=probe)
    assert probe.calls == [["c_ext", "b_ext", "a_ext"]]
    assert w.import_order() == ["c_ext", "b_ext", "a_ext"]


def test_modules_never_recorded_are_imported_last_in_sys_modules_order():
    imports = FakeImports(order=["z_ext"])
    w = make_world([ext_module("m_ext"), ext_module("a_ext"), ext_module("z_ext")], imports=imports)
    assert w.import_order() == ["z_ext", "m_ext", "a_ext"]


def test_whole_packages_are_imported_again():
    probe = FakeProbe(loaded={"fastlib._speedups": ["fastlib", "fastlib._speedups"]})
    w = make_world([fake_module("fastlib", package=True), ext_module("fastlib._speedups"),
                    fake_module("fastlib.util"), fake_module("fastlib.io", package=True),
                    fake_module("fastlib.io.readers"), fake_module("fastlibs"), fake_module("app")], probe=probe)
    assert reasons(w) == {"fastlib._speedups": Reason.EXTENSION, "fastlib": Reason.IMPORTED_BY_SEED,
                          "fastlib.util": Reason.IN_PACKAGE, "fastlib.io": Reason.IN_PACKAGE,
                          "fastlib.io.readers": Reason.IN_PACKAGE}
    assert str(w.by_ref["fastlib.io.readers"]) == "part of the package fastlib, which is imported again"


def test_pure_package_beside_an_extension_it_does_not_import_stays_by_value():
    # pydantic beside pydantic_core: the extension's import pulls in its own package only.
    probe = FakeProbe(loaded={"core_rs._core": ["core_rs", "core_rs._core"]})
    w = make_world([fake_module("models", package=True), fake_module("models.main"), fake_module("models.fields"),
                    fake_module("core_rs", package=True), ext_module("core_rs._core")], probe=probe)
    assert set(w.by_ref) == {"core_rs", "core_rs._core"}
    for name in ("models", "models.main", "models.fields"):
        assert not w.is_by_ref_module(name)


def test_amber_is_no_package_to_take_whole():
    probe = FakeProbe(loaded={"_ext": ["_ext", "amber"]})
    w = make_world([fake_module("amber", package=True), fake_module("amber.capture"), ext_module("_ext")],
                   probe=probe)
    assert reasons(w) == {"amber": Reason.AMBER, "amber.capture": Reason.AMBER, "_ext": Reason.EXTENSION}


def test_main_and_its_aliases_are_never_imported_again():
    main = fake_module("__main__", file="/srv/prog.py")
    probe = FakeProbe(loaded={"_ext": ["_ext", "__mp_main__", "__main__"]})
    w = make_world([main, ("__mp_main__", main), ext_module("_ext")], reimport={"__mp_main__"}, probe=probe)
    assert w.main_names == {"__main__", "__mp_main__"}
    assert reasons(w) == {"_ext": Reason.EXTENSION}


def test_failed_seeds_are_reported():
    probe = FakeProbe(failed={"_broken": "ImportError: libfoo.so.1: cannot open shared object file"})
    w = make_world([ext_module("_broken"), ext_module("_fine")], probe=probe)
    assert w.failed == {"_broken": "ImportError: libfoo.so.1: cannot open shared object file"}
    assert set(w.by_ref) == {"_broken", "_fine"}


def test_what_a_whole_package_module_imports_is_imported_again_too():
    # fastlib.structs defines a ctypes structure (a seed); fastlib.util is imported again because
    # its package is, and importing it again imports `otherlib` fresh: otherlib must then not be
    # captured by value too, or the restored process holds two copies of it.
    probe = FakeProbe(loaded={"fastlib.structs": ["fastlib", "fastlib.structs"],
                              "fastlib.util": ["fastlib.util", "otherlib"]})

    class S(ctypes.Structure):
        __module__ = "fastlib.structs"
        _fields_ = [("x", ctypes.c_int)]

    w = make_world([fake_module("fastlib", package=True), fake_module("fastlib.structs", S=S),
                    fake_module("fastlib.util"), fake_module("otherlib")], probe=probe)
    assert w.by_ref["fastlib.util"].reason is Reason.IN_PACKAGE
    assert "otherlib" in w.by_ref
    assert str(w.by_ref["otherlib"]) == "imported by fastlib.util when that is imported again"
    assert probe.calls == [["fastlib.structs"], ["fastlib.util"]]


def test_what_a_base_set_package_module_imports_is_imported_again():
    # encodings.idna is imported again for its base-set package, and importing it imports
    # stringprep (and unicodedata): stringprep must not be captured by value beside it.
    probe = FakeProbe(loaded={"encodings.idna": ["encodings.idna", "stringprep", "unicodedata"]})
    w = make_world([fake_module("encodings", package=True), fake_module("encodings.idna"),
                    fake_module("stringprep"), ext_module("unicodedata"), fake_module("app")],
                   base={"encodings"}, imports=FakeImports(order=["unicodedata", "stringprep", "encodings.idna"]),
                   probe=probe)
    assert reasons(w) == {"encodings": Reason.BASE_SET, "encodings.idna": Reason.IN_BASE_PACKAGE,
                          "stringprep": Reason.IMPORTED_BY_SEED, "unicodedata": Reason.EXTENSION}
    assert probe.calls == [["unicodedata", "encodings.idna"]]
    assert w.import_order() == ["unicodedata", "stringprep", "encodings.idna"]


def test_the_closure_goes_on_until_nothing_is_added():
    # a seed's package brings a module in (rule 4), whose import brings another package in
    # (rule 3), whose other module is brought in by its package (rule 4), and so on.
    probe = FakeProbe(loaded={"a._ext": ["a", "a._ext"], "a.util": ["a.util", "b.core"],
                              "b.extra": ["b.extra", "c"]})
    w = make_world([fake_module("a", package=True), ext_module("a._ext"), fake_module("a.util"),
                    fake_module("b", package=True), fake_module("b.core"), fake_module("b.extra"),
                    fake_module("c"), fake_module("d")], probe=probe)
    assert set(w.by_ref) == {"a", "a._ext", "a.util", "b", "b.core", "b.extra", "c"}
    assert probe.calls == [["a._ext"], ["a.util"], ["b", "b.extra"]]


# == state the program set on modules imported again ==============================================

def test_changed_state_on_a_module_imported_again_is_found():
    ext = ext_module("_cfg", level=5, options={"a": 1}, title="fresh", handler=object())
    fresh = {"_cfg": {"level": fingerprint(1), "options": fingerprint({}), "title": fingerprint("fresh"),
                      "handler": ("o", "builtins.object")}}
    w = make_world([ext], probe=FakeProbe(fingerprints=fresh))
    # title: unchanged; handler: an object Amber cannot compare, never replayed
    assert w.changed == {"_cfg": ["level", "options"]}
    assert w.notes == ["_cfg: level, options"]
    steps = [((func.module, func.qualname), args) for func, args in w.replay_steps()]
    assert steps == [(("builtins", "setattr"), (ext, "level", 5)),
                     (("amber.restore.rebuild", "set_dict"), (ext.options, (("a", 1),)))]
    assert steps[1][1][0] is ext.options
    # every step names a function that exists at restore
    for (module, qualname), _args in steps:
        assert callable(getattr(importlib.import_module(module), qualname))


def test_changed_containers_are_refilled_by_kind():
    ext = ext_module("_reg", L=[1, 2], S={3}, D={"k": "v"})
    fresh = {"_reg": {"L": fingerprint([]), "S": fingerprint(set()), "D": fingerprint({})}}
    w = make_world([ext], probe=FakeProbe(fingerprints=fresh))
    got = {func.qualname: args for func, args in w.replay_steps()}
    assert got == {"set_list": (ext.L, (1, 2)), "set_set": (ext.S, (3,)), "set_dict": (ext.D, (("k", "v"),))}
    assert got["set_list"][0] is ext.L and got["set_set"][0] is ext.S and got["set_dict"][0] is ext.D
    # changed in place: still found by name (and refilled), not captured as a second copy
    assert w.global_name(ext.L) == ("_reg", "L") and w.global_name(ext.D) == ("_reg", "D")


def test_a_rebound_attribute_is_captured_by_value_not_found_by_name():
    new_value = ("rebound", 1)
    ext = ext_module("_rb", CONF=new_value)
    fresh = {"_rb": {"CONF": fingerprint(("fresh", 0))}}
    w = make_world([ext], probe=FakeProbe(fingerprints=fresh))
    assert w.changed == {"_rb": ["CONF"]}
    assert w.global_name(new_value) is None


def test_changes_are_filtered_by_the_import_recorder():
    ext = ext_module("_cfg", level=5, other=7)
    fresh = {"_cfg": {"level": fingerprint(1), "other": fingerprint(1)}}
    imports = FakeImports(order=["_cfg"], after_import={"_cfg": {}}, changed={"_cfg": ["other"]})
    w = make_world([ext], imports=imports, probe=FakeProbe(fingerprints=fresh))
    assert imports.asked == [("_cfg", ["level", "other"])]
    assert w.changed == {"_cfg": ["other"]}


def test_changes_with_the_real_import_recorder(monkeypatch):
    from amber.capture.recorders.imports import ImportRecorder

    ext = ext_module("_unit_cfg", level=1, items=[1])
    monkeypatch.setitem(sys.modules, "_unit_cfg", ext)
    recorder = ImportRecorder.__new__(ImportRecorder)  # without hooking the import system
    recorder.order, recorder.stack, recorder.after_import, recorder.members_after_import = [], [], {}, {}
    recorder.instances_after_import, recorder.after_start_up = {}, {}
    recorder._finished("_unit_cfg", True)  # the namespace right after import
    ext.items.append(2)  # the program changes a container...
    ext.level = 1000  # ...and rebinds an attribute; a fresh import has level=0, items=[]
    fresh = {"_unit_cfg": {"level": fingerprint(0), "items": fingerprint([])}}
    w = make_world([ext], imports=recorder, probe=FakeProbe(fingerprints=fresh))
    assert sorted(w.changed["_unit_cfg"]) == ["items", "level"]


class _Defaults:
    __module__ = "_unit_owned"

    def __init__(self):
        self.timeout, self.hooks, self.pid, self.legacy = 1, [], 1234, True


def test_instances_a_module_owns_with_the_real_import_recorder(monkeypatch):
    from amber._compat import ident
    from amber.capture.recorders.imports import ImportRecorder
    from amber.capture.world.fingerprint import member_fingerprint

    ext = ext_module("_unit_owned", DEFAULTS=_Defaults())
    monkeypatch.setitem(sys.modules, "_unit_owned", ext)
    recorder = ImportRecorder.__new__(ImportRecorder)  # without hooking the import system
    recorder.order, recorder.stack, recorder.after_import, recorder.members_after_import = [], [], {}, {}
    recorder.instances_after_import, recorder.after_start_up = {}, {}
    recorder._finished("_unit_owned", True)
    fresh_instance = _Defaults()
    fresh_instance.pid = 99  # differs from process to process: never set again
    ext.DEFAULTS.timeout = 5  # rebound since the import, and not what a fresh import has
    ext.DEFAULTS.hooks.append(len)  # changed in place
    del ext.DEFAULTS.legacy
    probe = FakeProbe(fingerprints={"_unit_owned": namespace_fingerprint(ext)},
                      members={"_unit_owned": {"DEFAULTS": member_fingerprint(fresh_instance)}})
    w = make_world([ext], imports=recorder, probe=probe)
    steps = {(path, attr): how for _obj, path, attr, how in w.changed_instances["_unit_owned"]}
    assert steps == {("DEFAULTS", "timeout"): "set", ("DEFAULTS", "hooks"): "refill",
                     ("DEFAULTS", "legacy"): "del"}
    assert w.names[ident(ext.DEFAULTS.hooks)] == ("_unit_owned", "DEFAULTS.hooks")  # refilled in place
    assert [f.qualname for f, _args in w.replay_steps()] == ["patch", "set_list", "forget"]


def test_per_process_and_base_modules_are_never_replayed():
    os_mod = fake_module("os", environ_copy={"A": "1"})
    ext = ext_module("_ext", value=2)
    fresh = {"os": {"environ_copy": fingerprint({})}, "_ext": {"value": fingerprint(2)}}
    w = make_world([os_mod, ext], probe=FakeProbe(fingerprints=fresh))
    assert w.changed == {} and w.replay_steps() == []


def test_per_process_modules_keep_only_the_functions_the_program_put_there():
    def hook(args):
        pass

    thr = fake_module("threading", excepthook=hook, _counter=5, _active={1: object()})
    fresh = {"threading": {"excepthook": ("n", "_thread", "_excepthook"), "_counter": fingerprint(0),
                           "_active": fingerprint({})}}
    w = make_world([thr], probe=FakeProbe(fingerprints=fresh))
    assert w.changed == {"threading": ["excepthook"]}
    assert [(f.qualname, args) for f, args in w.replay_steps()] == [("setattr", (thr, "excepthook", hook))]


# == state the program set on the classes and functions of modules imported again =================

class Widget:
    __module__ = "_widgets"
    size = 1
    registry: dict = {}

    def draw(self):
        return "fresh"


def member_world(changes, fresh_members, *, base=(), probe=None, extra=()):
    mod = ext_module("_widgets", Widget=Widget)
    imports = FakeImports(order=["_widgets"], members={"_widgets": {"Widget": (Widget, changes)}})
    probe = probe or FakeProbe(members={"_widgets": {"Widget": fresh_members}})
    return make_world([mod, *extra], base=base, imports=imports, probe=probe), mod, probe


def test_an_attribute_set_on_a_class_of_a_module_imported_again_is_set_again(monkeypatch):
    def patched(self):
        return "patched"

    monkeypatch.setattr(Widget, "draw", patched)
    monkeypatch.setattr(Widget, "color", "red", raising=False)
    fresh = {"draw": ("n", "_widgets", "Widget.draw"), "size": fingerprint(1)}
    w, _mod, probe = member_world({"draw": "rebound", "color": "rebound"}, fresh)
    assert probe.described == [(["_widgets"], {"_widgets": ["Widget"]})]
    assert w.notes == ["_widgets: Widget.draw, Widget.color"]
    steps = [(f.qualname, args) for f, args in w.replay_steps()]
    assert steps == [("setattr", (Widget, "draw", patched)), ("setattr", (Widget, "color", "red"))]
    # the value set is captured (by value), never found by name as the class's own member
    assert w.global_name(patched) is None


def test_what_a_fresh_import_sets_too_is_not_set_again(monkeypatch):
    monkeypatch.setattr(Widget, "size", 1)
    w, _mod, _probe = member_world({"size": "rebound"}, {"size": fingerprint(1)})
    assert w.changed_members == {} and w.replay_steps() == [] and w.notes == []


def test_a_class_container_changed_in_place_is_refilled_and_stays_found_by_name(monkeypatch):
    monkeypatch.setattr(Widget, "registry", {"k": "v"})
    w, _mod, _probe = member_world({"registry": "changed"}, {"registry": fingerprint({})})
    steps = [(f.qualname, args) for f, args in w.replay_steps()]
    assert steps == [("set_dict", (Widget.registry, (("k", "v"),)))]
    assert w.global_name(Widget.registry) == ("_widgets", "Widget.registry")


def test_an_attribute_removed_from_a_class_is_removed_again():
    w, _mod, _probe = member_world({"legacy": "removed"}, {"legacy": fingerprint(0)})
    assert [(f.qualname, args) for f, args in w.replay_steps()] == [("delattr", (Widget, "legacy"))]
    assert w.notes == ["_widgets: Widget.legacy (removed)"]


def test_what_the_interpreter_adds_to_a_class_on_first_use_is_no_change(monkeypatch):
    monkeypatch.setattr(Widget, "__slotnames__", [], raising=False)
    probe = FakeProbe()
    w, _mod, _ = member_world({"__slotnames__": "rebound"}, {}, probe=probe)
    assert w.changed_members == {} and probe.described == [(["_widgets"], {})]


def test_a_function_attribute_and_a_base_set_class(monkeypatch):
    def dumps():
        pass

    dumps.__module__, dumps.__qualname__ = "basemod", "dumps"
    monkeypatch.setattr(dumps, "cache", {}, raising=False)
    base_mod = fake_module("basemod", dumps=dumps)
    imports = FakeImports(members={"basemod": {"dumps": (dumps, {"cache": "rebound"})}})
    probe = FakeProbe(members={"basemod": {"dumps": {}}})
    w = make_world([base_mod], base={"basemod"}, imports=imports, probe=probe)
    # the base set is described too (the fresh interpreter has it as a restore has)
    assert probe.described == [(["basemod"], {"basemod": ["dumps"]})] and probe.calls == []
    assert [(f.qualname, args) for f, args in w.replay_steps()] == [("setattr", (dumps, "cache", dumps.cache))]


def test_a_member_named_by_two_modules_is_compared_once_under_its_own(monkeypatch):
    monkeypatch.setattr(Widget, "color", "red", raising=False)
    # _collections_abc's classes say they belong to collections.abc, which re-exports them.
    imports = FakeImports(order=["_widgets_impl", "_widgets"],
                          members={"_widgets_impl": {"Widget": (Widget, {"color": "rebound"})},
                                   "_widgets": {"Widget": (Widget, {"color": "rebound"})}})
    probe = FakeProbe(members={"_widgets": {"Widget": {}}, "_widgets_impl": {"Widget": {}}})
    impl = fake_module("_widgets_impl", Widget=Widget)
    impl.__name__ = "_widgets"
    w = make_world([("_widgets_impl", impl), ext_module("_widgets", Widget=Widget)], base={"_widgets_impl"},
                   imports=imports, probe=probe)
    assert list(w.changed_members) == ["_widgets"]


def test_namespace_fingerprint_skips_dunders_and_compares_by_value():
    m = fake_module("fp", a=1, b=[1, 2], f=len)
    fp = namespace_fingerprint(m)
    assert set(fp) == {"a", "b", "f"}
    assert fp["a"] == fingerprint(1) != fingerprint(2)
    assert fp["b"] == fingerprint([1, 2]) != fingerprint([2, 1])
    assert fp["f"] == ("n", "builtins", "len")


# == finding objects by name ======================================================================

def test_objects_of_modules_imported_again_are_found_by_name():
    from amber._compat import ident

    def helper():
        pass

    helper.__module__, helper.__qualname__ = "_ext", "helper"
    registry = {"k": 1}
    ext = ext_module("_ext", helper=helper, REGISTRY=registry, count=3)
    by_value_obj = []
    w = make_world([ext, fake_module("app", data=by_value_obj)])
    assert w.global_name(helper) == ("_ext", "helper")
    assert w.global_name(registry) == ("_ext", "REGISTRY")
    assert w.global_name(by_value_obj) is None
    assert w.global_name(ext) is None  # a module is named ("_ext", ""): found as a module, not an attribute
    assert w.names[ident(ext)] == ("_ext", "")
    assert w.registered_name(ext) == "_ext" and w.registered_name(fake_module("_ext")) is None


def test_base_set_attributes_rebound_since_start_up_are_not_found_by_name():
    from amber._compat import ident

    kept, rebound = {"kept": 1}, {"new": 2}
    base_mod = fake_module("basemod", KEPT=kept, REBOUND=rebound)
    baseline = {"basemod": {"KEPT": ident(kept), "REBOUND": ident({"old": 0})}}
    w = make_world([base_mod], base={"basemod"}, baseline=baseline, probe=never_called)
    assert w.global_name(kept) == ("basemod", "KEPT")
    assert w.global_name(rebound) is None


def test_byref_repr_and_details():
    b = ByRef(Reason.IMPORTED_BY_SEED, "numpy.core._multiarray_umath")
    assert str(b) == "imported by numpy.core._multiarray_umath when that is imported again"
    assert repr(b) == "ByRef(IMPORTED_BY_SEED, 'imported by numpy.core._multiarray_umath when that is imported again')"
    for reason in Reason:  # every reason's text takes as many details as it has fields
        text = str(ByRef(reason, *["DETAIL"] * reason.value.count("{}")))
        assert "{" not in text and text.count("DETAIL") == reason.value.count("{}")
