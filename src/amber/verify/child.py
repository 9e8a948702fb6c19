"""The restoring child of a verification: ``python -I -S _boot.py verify <VerifyOptions>``.

It restores the image exactly as ``amber restore`` does, up to the point where the program's
own after-restore hooks would run (the live process was described after its before-snapshot
hooks, so the two states are the same one), describes the state with
:mod:`amber.verify.walker`, writes the description (marshal) to the file it was given, and
leaves without running any of the program.
"""

import marshal
import posix
import sys

from amber.options import VerifyOptions
from amber.restore import loader


def main(argv: list) -> None:
    options = VerifyOptions.decode(argv)
    from amber.restore import rebuild

    # amber.transient objects are made again on purpose, by the program's own factories, whose
    # effects the live process never had: they are not run here (the live side excuses them).
    rebuild.FACTORIES[0] = False
    manifest = loader.load(options.image)
    loader.settle(manifest, options.args)
    from amber.restore import lazy

    lazy.load_all()  # the real code of every function, as the live process has it
    from amber.verify import walker

    walker.RESUMED_ON_STACK.update(id(record["generator"]) for record in manifest.get("stack", ())
                                   if record["generator"] is not None)

    main_module = manifest.get("sys_main") or manifest["main"]  # as settle put it in sys.modules
    by_ref = set(manifest["by_ref"])
    modules: list = []
    hidden: list = []
    for name in manifest["order"]:
        mod = main_module if name == "__main__" else sys.modules.get(name)
        if mod is not None:
            (hidden if name == "amber" or name.startswith("amber.") else modules).append((name, mod))
    with open(options.result, "rb") as f:
        asked = set(marshal.load(f))  # the live walk's getstate_asked (amber.verify.check)
    facts = walker.describe(modules, {name for name, _ in modules if name not in by_ref}, hidden=hidden,
                            asked=asked).facts
    fd = posix.open(options.result, posix.O_WRONLY | posix.O_TRUNC | getattr(posix, "O_NOFOLLOW", 0))
    try:
        data = memoryview(marshal.dumps(facts))
        while data:
            data = data[posix.write(fd, data):]
    finally:
        posix.close(fd)
    posix._exit(0)  # nothing of the program runs: no atexit handler, no finalizer
