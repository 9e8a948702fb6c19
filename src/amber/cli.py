"""The ``amber`` command: parse Amber's own options, then hand over to a fresh interpreter.

``snapshot`` and ``restore`` re-execute the interpreter on :mod:`amber._boot` (see there for
why); ``inspect`` runs here. Amber's options come before SCRIPT/IMAGE; everything after them
belongs to the program. Errors are one ``amber: error: ...`` line and exit code 2.
"""

import os
import sys

USAGE = """\
usage: amber run [--rebuild] [-v] [--allow-secret NAME]... SCRIPT [ARGS...]
       amber run [--rebuild] [-v] [--allow-secret NAME]... -m MODULE [ARGS...]
       amber cache list | amber cache clear
       amber keygen [--force] | amber trust PUBLIC_KEY
       amber snapshot [-o IMAGE] [--reimport PKG]... [--allow-secret NAME]... [--strict] SCRIPT [ARGS...]
       amber snapshot [-o IMAGE] [--reimport PKG]... [--allow-secret NAME]... -m MODULE [ARGS...]
       amber restore [--insecure] IMAGE [ARGS...]
       amber inspect IMAGE [--json] [--insecure]
       amber inspect --base-set
       amber --version

  run        run SCRIPT: restore it from the image cache when a fresh image is there, else run
             it normally and build the image at its snapshot point (cache: $AMBER_CACHE)
  cache      list or clear the image cache
  keygen     make an Ed25519 key pair: images made here are signed with it
  trust      restore images signed by this public key (made by `amber keygen` elsewhere)
  snapshot   run SCRIPT (or MODULE) as __main__ up to its snapshot point and write IMAGE
             (default: SCRIPT's name with .amber, in the current directory)
  restore    restore a fresh process from IMAGE and resume right after the snapshot point;
             IMAGE must be signed with this machine's key (AMBER_KEY or ~/.config/amber/hmac.key)
             unless --insecure
  inspect    show what IMAGE holds; --base-set lists the modules every restore starts with

The snapshot point is the first top-level `amber.snapshot()` statement of the main script, else
its top-level `if __name__ == "__main__":`, else its end.
"""

BOOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_boot.py")


class _Usage(Exception):
    pass


def main(argv: list | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if not argv or argv[0] in ("-h", "--help", "help"):
            sys.stdout.write(USAGE)
            return 0 if argv else 2
        command, rest = argv[0], argv[1:]
        if command == "--version":
            from amber import __version__

            print(f"amber {__version__}")
            return 0
        if command == "restore":
            return _restore(rest)
        if command == "snapshot":
            return _snapshot(rest)
        if command == "inspect":
            from amber.inspector import main as inspect_main

            return inspect_main(rest)
        if command == "run":
            return _run(rest)
        if command in ("keygen", "trust"):
            from amber import keys

            return keys.keygen_main(rest) if command == "keygen" else keys.trust_main(rest)
        if command == "cache":
            from amber.cache import main as cache_main

            return cache_main(rest)
        raise _Usage(f"unknown command {command!r} (expected run, snapshot, restore, inspect, cache, "
                     f"keygen or trust)")
    except _Usage as e:
        sys.stderr.write(f"amber: error: {e}\n")
        return 2
    except KeyboardInterrupt:
        return 130


def _run(args: list) -> int:
    flags = []
    i = 0
    while i < len(args) and args[i].startswith("-"):
        a = args[i]
        if a == "--rebuild":
            flags.append("--rebuild")
        elif a == "--allow-secret":
            if i + 1 >= len(args):
                raise _Usage("--allow-secret needs a name")
            flags += ["--allow-secret", args[i + 1]]
            i += 1
        elif a == "--strict":
            flags.append("--strict")
        elif a in ("-v", "--verbose"):
            flags.append("--verbose")
        elif a in ("-h", "--help"):
            sys.stdout.write(USAGE)
            return 0
        elif a == "-m":
            if i + 1 >= len(args):
                raise _Usage("-m needs a module name")
            _exec([sys.executable, "-I", "-S", BOOT, "run", *flags, "-m", args[i + 1], "--", *args[i + 2:]])
        else:
            raise _Usage(f"unknown option {a!r} for run")
        i += 1
    if i >= len(args):
        raise _Usage("run needs a script or -m MODULE")
    if not os.path.isfile(args[i]):
        raise _Usage(f"no such script: {args[i]}")
    script = os.path.abspath(args[i])
    _exec([sys.executable, "-I", "-S", BOOT, "run", *flags, "-s", script, "--", *args[i + 1:]])
    return 0  # not reached


def _restore(args: list) -> int:
    flags = []
    while args and args[0] == "--insecure":
        flags, args = ["--insecure"], args[1:]
    if not args or args[0].startswith("-") and args[0] not in ("-",):
        if args and args[0] in ("-h", "--help"):
            sys.stdout.write(USAGE)
            return 0
        raise _Usage("restore needs an image: amber restore IMAGE [ARGS...]")
    _exec([sys.executable, "-I", "-S", BOOT, "restore", *flags, *args])
    return 0  # not reached


def _snapshot(args: list) -> int:
    output = None
    reimport: list[str] = []
    allowed: list[str] = []
    strict = False
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-o", "--output"):
            if i + 1 >= len(args):
                raise _Usage(f"{a} needs a file name")
            output = args[i + 1]
            i += 2
        elif a.startswith("--output="):
            output = a.split("=", 1)[1]
            i += 1
        elif a in ("--reimport", "--allow-secret"):
            if i + 1 >= len(args):
                raise _Usage(f"{a} needs a name")
            (reimport if a == "--reimport" else allowed).append(args[i + 1])
            i += 2
        elif a == "--strict":
            strict = True
            i += 1
        elif a in ("-h", "--help"):
            sys.stdout.write(USAGE)
            return 0
        elif a == "-m":
            if i + 1 >= len(args):
                raise _Usage("-m needs a module name")
            mode, target, program_args = "-m", args[i + 1], args[i + 2:]
            break
        elif a.startswith("-"):
            raise _Usage(f"unknown option {a!r} for snapshot")
        else:
            mode, target, program_args = "-s", a, args[i + 1:]
            break
    else:
        raise _Usage("snapshot needs a script or -m MODULE")
    if mode == "-s" and not os.path.isfile(target):
        raise _Usage(f"no such script: {target}")
    if output is None:
        stem = os.path.basename(target)
        stem = stem[:-3] if stem.endswith(".py") else stem
        output = f"{stem}.amber"
    out_dir = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(out_dir):
        raise _Usage(f"cannot write {output}: no such directory {out_dir}")
    cmd = [sys.executable, "-S", BOOT, "snapshot", os.path.abspath(output), mode, target]
    for pkg in reimport:
        cmd += ["--reimport", pkg]
    for name in allowed:
        cmd += ["--allow-secret", name]
    if strict:
        cmd.append("--strict")
    cmd += ["--", *program_args]
    _exec(cmd)
    return 0  # not reached


def _exec(cmd: list) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "nt":  # pragma: no cover - no exec on Windows: run and pass the code on
        import subprocess

        raise SystemExit(subprocess.call(cmd))
    os.execv(cmd[0], cmd)
