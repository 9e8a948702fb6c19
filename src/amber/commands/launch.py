"""``amber run``, ``amber snapshot``, ``amber restore``: the commands that run the program.

Each turns its command line into one typed options object (:mod:`amber.options`) and
re-executes the interpreter on :mod:`amber._boot` with it, encoded once: the program runs in a
fresh interpreter started the way it needs (isolated for a restore, see :mod:`amber._boot`), and
this one is gone.

Amber's options come before SCRIPT/IMAGE (or ``-m MODULE``); everything after it belongs to the
program, ``--help`` included (:func:`split_program`). Each command's options are declared once,
as :class:`Option` rows (:data:`RUN`, :data:`SNAPSHOT`, :data:`RESTORE`; :data:`BUILD` are those
run and snapshot share), from which its argparse sub-parser is made (help, errors, every spelling
argparse accepts), its usage lines are written (:func:`usage_lines`, for its ``--help`` and for
``amber --help``), and :func:`quick_parse` reads the plain spellings (``-v``, ``--reimport PKG``,
``SCRIPT``) without importing argparse: ``amber run`` and ``amber restore`` start a second
interpreter, and argparse with what it imports would cost the first one more than all the rest of
its work.
"""

import os
import sys

from amber._files import BOOT
from amber.errors import AmberError, UsageError, flush_streams, warn
from amber.options import RestoreOptions, RunOptions, SnapshotOptions

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

__all__ = ["Option", "BUILD", "RUN", "SNAPSHOT", "RESTORE", "DEBUG", "usage_lines", "split_program",
           "quick_parse", "run_arguments", "run", "snapshot_arguments", "snapshot", "restore_arguments",
           "restore", "debug_arguments", "debug"]

FLAG = "flag"  # --strict: True when given
VALUE = "value"  # -o IMAGE: the last one given
APPEND = "append"  # --reimport PKG: every one given, in order
PROGRAM = "program"  # -m MODULE: a value, and the program's arguments start after it
POSITIONAL = "positional"  # SCRIPT / IMAGE: the program; its arguments start after it


class Option:
    """One word of a command's command line before the program's arguments."""

    __slots__ = ("names", "dest", "kind", "metavar", "help")

    def __init__(self, *names: str, dest: str, kind: str = FLAG, metavar: "str | None" = None,
                 help: str) -> None:
        self.names = names
        self.dest = dest
        self.kind = kind
        self.metavar = metavar
        self.help = help

    def default(self) -> object:
        return False if self.kind == FLAG else [] if self.kind == APPEND else None

    @property
    def names_program(self) -> bool:
        """SCRIPT/IMAGE or ``-m MODULE``: a way of naming the program, not an option of Amber's."""
        return self.kind in (POSITIONAL, PROGRAM)

    def spelling(self) -> str:
        """As written on a command line: ``--strict``, ``-o IMAGE``, ``-m MODULE``, ``SCRIPT``."""
        if self.kind == POSITIONAL:
            return str(self.metavar)
        return self.names[0] if self.kind == FLAG else f"{self.names[0]} {self.metavar}"

    def in_usage(self) -> str:
        """In a usage line: ``[--strict]``, ``[-o IMAGE]``, ``[--reimport PKG]...`` (repeatable)."""
        return f"[{self.spelling()}]" + ("..." if self.kind == APPEND else "")

    def add_to(self, parser: "argparse.ArgumentParser") -> None:
        if self.kind == POSITIONAL:
            parser.add_argument(self.dest, nargs="?", metavar=self.metavar, help=self.help)
        elif self.kind == FLAG:
            parser.add_argument(*self.names, dest=self.dest, action="store_true", help=self.help)
        elif self.kind == APPEND:
            parser.add_argument(*self.names, dest=self.dest, action="append", default=[],
                                metavar=self.metavar, help=self.help)
        else:
            parser.add_argument(*self.names, dest=self.dest, metavar=self.metavar, help=self.help)


BUILD = (
    Option("--reimport", dest="reimport", kind=APPEND, metavar="PKG",
           help="import package PKG again at restore instead of capturing it (repeatable)"),
    Option("--allow-secret", dest="allow_secret", kind=APPEND, metavar="NAME",
           help="let the secret scan pass the value of environment variable NAME (repeatable)"),
    Option("--strict", dest="strict",
           help="randomness that would repeat in every restored process is an error, not a warning"),
    Option("--no-verify", dest="no_verify",
           help="do not restore the new image in a fresh process and compare its state with the "
                "program's before using it"),
    Option("-m", dest="module", kind=PROGRAM, metavar="MODULE",
           help="run library module MODULE as __main__, as python -m does"),
    Option("SCRIPT", dest="script", kind=POSITIONAL, metavar="SCRIPT", help="the script to run as __main__"),
)
RUN = (
    Option("--rebuild", dest="rebuild", help="build a new image even if the cached one is fresh"),
    Option("-v", "--verbose", dest="verbose", help="say whether the image is restored or built, and why"),
    Option("--wait", dest="wait", help="a run that builds the image waits for it (by default the image "
                                        "is written in the background while the program goes on)"),
    Option("--no-pool", dest="no_pool", help="restore in this process even when a pool of the cached image "
                                              "runs (amber pool start)"),
    *BUILD,
)
SNAPSHOT = (
    Option("-o", "--output", dest="output", kind=VALUE, metavar="IMAGE",
           help="the image to write (default: SCRIPT's or MODULE's name with .amber, here)"),
    Option("--lazy-code", dest="lazy_code", help="(experimental) functions get their code on first call"),
    *BUILD,
)
RESTORE = (
    Option("--insecure", dest="insecure", help="restore without checking who made IMAGE"),
    Option("--verify-buffers", dest="verify_buffers",
           help="check the digest of the large buffers even if this very file passed the check "
                "before (a restore always checks them once per file)"),
    Option("--no-pool", dest="no_pool", help="restore in this process even when a pool of IMAGE runs "
                                              "(amber pool start)"),
    Option("IMAGE", dest="image", kind=POSITIONAL, metavar="IMAGE", help="the image to restore"),
)
DEBUG = (
    Option("--insecure", dest="insecure", help="restore without checking who made IMAGE"),
    Option("IMAGE", dest="image", kind=POSITIONAL, metavar="IMAGE", help="the image to restore and debug"),
)
_AFTER = ("Amber's options come before SCRIPT (or -m MODULE); everything after it belongs to the "
          "program. The snapshot point is the first top-level `amber.snapshot()` statement of the "
          "main script, else its top-level `if __name__ == \"__main__\":`, else its end.")


def usage_lines(prog: str, options: "tuple[Option, ...]", shared: "tuple[Option, ...]" = ()) -> list[str]:
    """``prog``'s usage, made from its declaration: one line per way of naming the program
    (``SCRIPT`` and ``-m MODULE``; ``IMAGE``), Amber's options first; those in ``shared`` are
    shown together as ``[OPTIONS]`` (``amber --help`` lists them once, see :data:`BUILD`)."""
    words: list[str] = []
    for option in options:
        if not option.names_program:
            word = "[OPTIONS]" if option in shared else option.in_usage()
            if word not in words:
                words.append(word)
    programs = sorted((o for o in options if o.names_program), key=lambda o: o.kind != POSITIONAL)
    return [" ".join([prog, *words, o.spelling(), "[ARGS...]"]) for o in programs]


def split_program(argv: list[str], options: "tuple[Option, ...]") -> tuple[list[str], list[str]]:
    """(Amber's words up to SCRIPT/IMAGE or ``-m MODULE``, the program's arguments after them)."""
    takes_value = {name for o in options if o.kind in (VALUE, APPEND) for name in o.names}
    program = {name for o in options if o.kind == PROGRAM for name in o.names}
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--" or word in program:  # the next word is SCRIPT/IMAGE, or MODULE
            return argv[:i + 2], argv[i + 2:]
        if word == "-" or not word.startswith("-"):
            return argv[:i + 1], argv[i + 1:]
        if not word.startswith("--"):  # -v, -vm MODULE, -mMODULE, -oIMAGE: short options together
            after = _short_cluster(word, takes_value, program)
            if after is not None:
                return argv[:i + 1 + after], argv[i + 1 + after:]
        i += 2 if word in takes_value else 1
    return argv, []


def _short_cluster(word: str, takes_value: set[str], program: set[str]) -> "int | None":
    """For ``-xyz``, read as argparse reads short options together: the number of words after
    it that are still Amber's if it names the program (0 for ``-mMODULE``, 1 for ``-vm MODULE``),
    None if it does not (then ``-oIMAGE`` or ``-o IMAGE`` is only an option)."""
    for at in range(1, len(word)):
        name = "-" + word[at]
        rest = word[at + 1:]
        if name in program:
            return 0 if rest else 1
        if name in takes_value:
            return None  # the rest of the word, or the next word, is its value
    return None


class Parsed:
    """The options :func:`quick_parse` read, as attributes (as argparse's Namespace has them)."""

    def __init__(self, **values: object) -> None:
        self.__dict__.update(values)


def quick_parse(words: list[str], options: "tuple[Option, ...]", args: list[str]) -> "Parsed | None":
    """What argparse would make of ``words`` (Amber's part, see :func:`split_program`), when they
    are spelt plainly, with the program's ``args``; None for anything else (help, an unknown
    option, ``--opt=value``, a missing value...), which argparse then parses and reports."""
    by_name = {name: o for o in options for name in o.names if o.kind != POSITIONAL}
    values: dict[str, Any] = {o.dest: o.default() for o in options}
    program = False  # SCRIPT/IMAGE or -m MODULE read (if not, argparse and the command say what is missing)
    i = 0
    while i < len(words):
        word = words[i]
        option = by_name.get(word)
        if option is None:
            positional = [o for o in options if o.kind == POSITIONAL]
            if (word.startswith("-") and word != "-") or i != len(words) - 1 or not positional:
                return None
            values[positional[0].dest] = word
            program = True
            break
        if option.kind == FLAG:
            values[option.dest] = True
            i += 1
            continue
        if i + 1 >= len(words) or words[i + 1].startswith("-"):
            return None  # argparse says what is missing
        value = words[i + 1]
        program = program or option.kind == PROGRAM
        if option.kind == APPEND:
            values[option.dest] = [*values[option.dest], value]
        else:
            values[option.dest] = value
        i += 2
    return Parsed(**values, args=args) if program else None


def _add(parser: "argparse.ArgumentParser", options: "tuple[Option, ...]", args_help: str) -> None:
    parser.usage = "\n       ".join(usage_lines("%(prog)s", options))  # aligned under argparse's "usage: "
    for option in options:
        option.add_to(parser)
    parser.add_argument("args", nargs="*", metavar="ARGS", help=args_help)


def _target(opts: "argparse.Namespace", command: str) -> tuple[str, bool]:
    """(SCRIPT or MODULE, whether it is a module), checked."""
    if opts.module is not None:
        return opts.module, True
    if opts.script is None:
        raise UsageError(f"{command} needs a script or -m MODULE; see 'amber {command} --help'")
    if not os.path.isfile(opts.script):
        raise UsageError(f"no such script: {opts.script}")
    return opts.script, False


def run_arguments(parser: "argparse.ArgumentParser") -> None:
    parser.description = ("Run SCRIPT (or MODULE): restore it from the image cache when a fresh image is "
                          "there, else run it normally and build the image at its snapshot point, and keep "
                          "going. The cache is $AMBER_CACHE (default ~/.cache/amber), capped at "
                          "$AMBER_CACHE_SIZE (default 2G).")
    parser.epilog = _AFTER
    _add(parser, RUN, "the program's own arguments: everything after SCRIPT (or -m MODULE), --help included")


def run(opts: "argparse.Namespace") -> int:
    if opts.module is None and opts.script is not None and os.path.isdir(opts.script):
        # A directory application (its __main__.py): python runs it; Amber has no image for it.
        warn(f"{opts.script} is a directory: amber run has no image for it; running it without Amber")
        return _exec([sys.executable, opts.script, *opts.args])
    target, is_module = _target(opts, "run")  # as spelled: a cold run gets it so (the key makes it absolute)
    options = RunOptions(target, is_module, rebuild=opts.rebuild, verbose=opts.verbose,
                         reimport=opts.reimport, allowed_secrets=opts.allow_secret, strict=opts.strict,
                         verify=not opts.no_verify, wait=opts.wait, no_pool=opts.no_pool, args=opts.args)
    return _exec([sys.executable, "-I", "-S", BOOT, "run", *options.encode()])


def snapshot_arguments(parser: "argparse.ArgumentParser") -> None:
    parser.description = ("Run SCRIPT (or MODULE) as __main__ up to its snapshot point and write IMAGE; "
                          "`amber restore IMAGE` resumes right after that point.")
    parser.epilog = _AFTER
    _add(parser, SNAPSHOT, "the program's own arguments: everything after SCRIPT (or -m MODULE), --help "
                           "included")


def snapshot(opts: "argparse.Namespace") -> int:
    """Check IMAGE's path and the signing key (:mod:`amber.commands.paths`), then hand over."""
    target, is_module = _target(opts, "snapshot")
    from amber.commands.paths import check_output, check_signing_key

    output = opts.output
    if output is None:
        stem = os.path.basename(target)
        output = f"{stem[:-3] if stem.endswith('.py') else stem}.amber"
    # Checked before start-up runs: a mistake found after it would cost all of start-up.
    image = check_output(output, None if is_module else target)
    check_signing_key()
    options = SnapshotOptions(image, target, is_module, reimport=opts.reimport,
                              allowed_secrets=opts.allow_secret, strict=opts.strict, lazy_code=opts.lazy_code,
                              verify=not opts.no_verify, args=opts.args)
    # Not isolated: the user's environment (PYTHONPATH...) shapes the program's start-up.
    return _exec([sys.executable, "-S", BOOT, "snapshot", *options.encode()])


def restore_arguments(parser: "argparse.ArgumentParser") -> None:
    parser.description = ("Restore a fresh process from IMAGE and resume right after its snapshot point. "
                          "IMAGE must be signed with this machine's key (AMBER_KEY or "
                          "~/.config/amber/hmac.key) or a trusted Ed25519 key (amber trust).")
    parser.epilog = _AFTER_IMAGE
    _add(parser, RESTORE, _IMAGE_ARGS)


def restore(opts: "argparse.Namespace") -> int:
    _needs_image(opts, "restore")
    return _restoring(RestoreOptions(opts.image, insecure=opts.insecure, verify_buffers=opts.verify_buffers,
                                     no_pool=opts.no_pool, args=opts.args))


def debug_arguments(parser: "argparse.ArgumentParser") -> None:
    parser.description = ("Restore IMAGE and stop in pdb at the first line after its snapshot point, with "
                          "the restored state (p, n, s, b, c as in python -m pdb); an unhandled exception "
                          "opens a post-mortem session. Never through a pool.")
    parser.epilog = _AFTER_IMAGE
    _add(parser, DEBUG, _IMAGE_ARGS)


def debug(opts: "argparse.Namespace") -> int:
    _needs_image(opts, "debug")
    return _restoring(RestoreOptions(opts.image, insecure=opts.insecure, no_pool=True, debug=True,
                                     args=opts.args))


_AFTER_IMAGE = "Amber's options come before IMAGE; everything after it belongs to the program."
_IMAGE_ARGS = "the program's own arguments (its sys.argv[1:]): everything after IMAGE"


def _needs_image(opts: "argparse.Namespace", command: str) -> None:
    if opts.image is None:
        raise UsageError(f"{command} needs an image; see 'amber {command} --help'")


def _restoring(options: RestoreOptions) -> int:
    """Become the isolated restoring interpreter (see amber._boot)."""
    return _exec([sys.executable, "-I", "-S", BOOT, "restore", *options.encode()])


def _exec(cmd: list[str]) -> int:
    """Become ``cmd`` (the exit code is the new program's)."""
    flush_streams()
    if os.name == "nt":  # pragma: no cover - no exec on Windows: run it and pass its code on
        import subprocess

        return subprocess.call(cmd)
    try:
        os.execv(cmd[0], cmd)
    except OSError as e:
        raise AmberError(f"cannot start the interpreter {cmd[0]}: {e.strerror}") from None
    return 0  # not reached
