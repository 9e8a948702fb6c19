"""Which modules are captured by value and which are held by reference.

Held by reference (imported again at restore, objects in them found by name):

* the **base set**: every module loaded before the program's code starts (the interpreter's own
  start-up under ``-I -S``, plus what Amber's restore path needs: ``_pickle`` and its imports).
  The restoring interpreter has exactly these before it reads the image;
* **extension and builtin modules** (``.so``/``.pyd``): they cannot be captured by value;
* **entangled packages**: a top-level package that contains an extension module, or whose Python
  modules an extension module imported while it initialised, is imported again as a whole
  (numpy, pandas...). ``amber.reimport("pkg")`` and ``--reimport pkg`` add more;
* modules that describe the running process itself: ``threading`` (its main-thread object);
* Amber itself.

Everything else reachable from ``sys.modules`` and ``__main__`` is captured by value.
"""

from __future__ import annotations

import sys
import types

PER_PROCESS_MODULES = ("threading",)
ATOMS = (type(None), bool, int, float, str, bytes)
_NAMED_KINDS = (type, types.FunctionType, types.BuiltinFunctionType, types.MethodDescriptorType,
                types.WrapperDescriptorType, types.ClassMethodDescriptorType)


def is_extension(mod: types.ModuleType) -> bool:
    spec = getattr(mod, "__spec__", None)
    loader = getattr(spec, "loader", None) if spec is not None else getattr(mod, "__loader__", None)
    name = type(loader).__name__ if loader is not None else ""
    if name in ("ExtensionFileLoader", "BuiltinImporter"):
        return True
    if isinstance(loader, type) and loader.__name__ == "BuiltinImporter":
        return True
    file = getattr(mod, "__file__", None)
    if file is None:
        return mod.__name__ in sys.builtin_module_names
    return file.endswith((".so", ".pyd", ".dylib"))


class World:
    """The by-reference side of the heap, and the reverse index used to find objects by name."""

    def __init__(self, modules: dict, baseline: dict, ext_deps: dict, reimport: set):
        """``baseline`` maps each base-set module name to {attribute: id(value)} at start-up."""
        self.baseline = baseline
        baseline_names = set(baseline) | {"builtins", "sys"}
        self.modules = modules  # name -> module, in sys.modules order at the snapshot point
        self.by_ref: dict[str, str] = {}  # module name -> reason
        tops_by_ref: dict[str, str] = {}
        for name, mod in modules.items():
            top = name.partition(".")[0]
            if name in baseline_names:
                self.by_ref[name] = "base set"
            elif name == "amber" or name.startswith("amber."):
                self.by_ref[name] = "Amber itself"
            elif name in PER_PROCESS_MODULES:
                self.by_ref[name] = "describes the running process"
            elif top in reimport or name in reimport:
                tops_by_ref.setdefault(top, "asked to (reimport)")
            elif is_extension(mod):
                if "." in name:
                    tops_by_ref.setdefault(top, f"package holds extension module {name}")
                else:
                    self.by_ref[name] = "extension module"
        for ext, deps in ext_deps.items():
            for dep in deps:
                if dep in modules and dep not in self.by_ref and not is_extension(modules[dep]):
                    top = dep.partition(".")[0]
                    tops_by_ref.setdefault(top, f"extension {ext} imports it while initialising")
        for name in modules:
            top = name.partition(".")[0]
            if name not in self.by_ref and top in tops_by_ref:
                self.by_ref[name] = tops_by_ref[top] if top == name else f"part of {top}: {tops_by_ref[top]}"
        self.names: dict[int, tuple[str, str]] = {}
        self._index()

    def _index(self) -> None:
        names = self.names
        for modname in self.by_ref:
            mod = self.modules.get(modname)
            if mod is None:
                continue
            if getattr(mod, "__name__", None) == modname:
                names[id(mod)] = (modname, "")
            try:
                items = list(vars(mod).items())
            except TypeError:
                continue
            # A base-set module is found at restore as start-up left it: attributes the program
            # set or rebound later are captured by value and set again (amber.capture.interpreter).
            at_start = self.baseline.get(modname)
            for attr, value in items:
                if at_start is not None and at_start.get(attr) != id(value):
                    continue
                if type(value) in ATOMS or isinstance(value, types.ModuleType) or \
                        attr.startswith("__") and attr.endswith("__") and \
                        attr not in ("__import__", "__build_class__"):
                    continue
                key = id(value)
                prev = names.get(key)
                # Prefer the module an object says it belongs to (collections.OrderedDict, not
                # some module that imported it).
                if prev is None or (getattr(value, "__module__", None) == modname and
                                    getattr(value, "__module__", None) != prev[0]):
                    names[key] = (modname, attr)
        # Objects every interpreter has under a stable name though no module exports them.
        for obj in (object.__new__, type.__new__):
            names.setdefault(id(obj), ("builtins", f"{obj.__self__.__name__}.__new__"))

    def is_by_ref_module(self, name: str) -> bool:
        return name in self.by_ref

    def global_name(self, obj) -> tuple[str, str] | None:
        """Where ``obj`` can be found by name at restore, or None if it must be captured by value."""
        hit = self.names.get(id(obj))
        if hit is not None:
            return hit if hit[1] else None
        if not isinstance(obj, _NAMED_KINDS):
            return None
        modname = getattr(obj, "__module__", None)
        qualname = getattr(obj, "__qualname__", None)
        if not isinstance(modname, str) or not isinstance(qualname, str) or modname not in self.by_ref:
            return None
        if "<locals>" in qualname:
            return None
        target = self.modules.get(modname) or sys.modules.get(modname)
        for part in qualname.split("."):
            target = getattr(target, part, None)
            if target is None:
                return None
        return (modname, qualname) if target is obj else None
