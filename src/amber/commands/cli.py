"""The ``amber`` command: parse Amber's own options, then hand over to a fresh interpreter.

``snapshot`` and ``restore`` re-execute the interpreter on :mod:`amber._boot` (see there for
why); ``inspect`` runs here. Amber's options come before SCRIPT/IMAGE; everything after them
belongs to the program. Errors are one ``amber: error: ...`` line and exit code 2.
"""

import os
import sys

from amber._files import BOOT

USAGE = """\
usage: amber run [--rebuild] [-v] [--reimport PKG]... [--allow-secret NAME]... [--strict] SCRIPT [ARGS...]
       amber run [--rebuild] [-v] [--reimport PKG]... [--allow-secret NAME]... [--strict] -m MODULE [ARGS...]
       amber cache list | amber cache clear
       amber keygen [--force] | amber trust PUBLIC_KEY
       amber snapshot [-o IMAGE] [--reimport PKG]... [--allow-secret NAME]... [--strict] SCRIPT [ARGS...]
       amber snapshot [-o IMAGE] [--reimport PKG]... [--allow-secret NAME]... -m MODULE [ARGS...]
       amber restore [--insecure] [--verify-buffers] IMAGE [ARGS...]
       amber inspect IMAGE [--json] [--insecure]
       amber inspect --base-set
       amber --version

  run        run SCRIPT: restore it from the image cache when a fresh image is there, else run
             it normally and build the image at its snapshot point (cache: $AMBER_CACHE)
  cache      list or clear the image cache
  keygen     make an Ed25519 key pair: images made here are signed with it
  trust      restore images signed by this public key (made by `amber keygen` elsewhere)
  snapshot   run SCRIPT (or MODULE) as __main__ up to its snapshot point and write IMAGE
             (default: SCRIPT's name with .amber, in the current directory); --lazy-code
             (experimental): functions get their code on first call
  restore    restore a fresh process from IMAGE and resume right after the snapshot point;
             IMAGE must be signed with this machine's key (AMBER_KEY or ~/.config/amber/hmac.key)
             unless --insecure; --verify-buffers also checks the digest of the mapped
             large buffers (read in full instead of only mapped)
  inspect    show what IMAGE holds; --base-set lists the modules every restore starts with

The snapshot point is the first top-level `amber.snapshot()` statement of the main script, else
its top-level `if __name__ == "__main__":`, else its end.
"""



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
            from amber.commands.inspect import main as inspect_main

            return inspect_main(rest)
        if command == "run":
            return _run(rest)
        if command in ("keygen", "trust"):
            from amber.commands import keys

            return keys.keygen_main(rest) if command == "keygen" else keys.trust_main(rest)
        if command == "cache":
            from amber.runcache.eviction import main as cache_main

            return cache_main(rest)
        raise _Usage(f"unknown command {command!r} (expected run, snapshot, restore, inspect, cache, "
                     f"keygen or trust)")
    except _Usage as e:
        sys.stderr.write(f"amber: error: {e}\n")
        return 2
    except KeyboardInterrupt:
        return 130


# Amber's options before SCRIPT / -m MODULE: name -> (takes a value, boot flag, commands).
_OPTIONS = {
    "--rebuild": (False, "--rebuild", {"run"}),
    "-v": (False, "--verbose", {"run"}),
    "--verbose": (False, "--verbose", {"run"}),
    "--reimport": (True, "--reimport", {"run", "snapshot"}),
    "--allow-secret": (True, "--allow-secret", {"run", "snapshot"}),
    "--strict": (False, "--strict", {"run", "snapshot"}),
    "--lazy-code": (False, "--lazy-code", {"snapshot"}),
    "-o": (True, None, {"snapshot"}),
    "--output": (True, None, {"snapshot"}),
}


def _program_options(command: str, args: list):
    """Split ``[OPTIONS] (SCRIPT | -m MODULE) [ARGS...]``: (boot flags, output, mode, target, args),
    or None when help was asked for."""
    flags: list = []
    output = None
    i = 0
    while i < len(args):
        a = args[i]
        name, _, inline = a.partition("=") if a.startswith("--") else (a, "", "")
        if a in ("-h", "--help"):
            sys.stdout.write(USAGE)
            return None
        if a == "-m":
            if i + 1 >= len(args):
                raise _Usage("-m needs a module name")
            return flags, output, "-m", args[i + 1], args[i + 2:]
        if not a.startswith("-"):
            if not os.path.isfile(a):
                raise _Usage(f"no such script: {a}")
            return flags, output, "-s", a, args[i + 1:]
        spec = _OPTIONS.get(name)
        if spec is None or command not in spec[2]:
            raise _Usage(f"unknown option {a!r} for {command}")
        takes_value, boot_flag, _ = spec
        value = None
        if takes_value:
            if inline:
                value = inline
            elif i + 1 < len(args):
                i += 1
                value = args[i]
            else:
                raise _Usage(f"{name} needs a {'file name' if boot_flag is None else 'name'}")
        if boot_flag is None:
            output = value
        else:
            flags += [boot_flag] + ([value] if takes_value else [])
        i += 1
    raise _Usage(f"{command} needs a script or -m MODULE")


def _run(args: list) -> int:
    parsed = _program_options("run", args)
    if parsed is None:
        return 0
    flags, _output, mode, target, program_args = parsed
    if mode == "-s":
        target = os.path.abspath(target)  # the cache key names the script by its absolute path
    _exec([sys.executable, "-I", "-S", BOOT, "run", *flags, mode, target, "--", *program_args])
    return 0  # not reached


def _restore(args: list) -> int:
    flags = []
    while args and args[0] in ("--insecure", "--verify-buffers"):
        if args[0] not in flags:
            flags.append(args[0])
        args = args[1:]
    if not args or args[0].startswith("-") and args[0] not in ("-",):
        if args and args[0] in ("-h", "--help"):
            sys.stdout.write(USAGE)
            return 0
        raise _Usage("restore needs an image: amber restore IMAGE [ARGS...]")
    _exec([sys.executable, "-I", "-S", BOOT, "restore", *flags, *args])
    return 0  # not reached


def _snapshot(args: list) -> int:
    parsed = _program_options("snapshot", args)
    if parsed is None:
        return 0
    flags, output, mode, target, program_args = parsed
    if output is None:
        stem = os.path.basename(target)
        stem = stem[:-3] if stem.endswith(".py") else stem
        output = f"{stem}.amber"
    out_dir = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(out_dir):
        raise _Usage(f"cannot write {output}: no such directory {out_dir}")
    _exec([sys.executable, "-S", BOOT, "snapshot", os.path.abspath(output), mode, target, *flags,
           "--", *program_args])
    return 0  # not reached


def _exec(cmd: list) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "nt":  # pragma: no cover - no exec on Windows: run and pass the code on
        import subprocess

        raise SystemExit(subprocess.call(cmd))
    os.execv(cmd[0], cmd)
