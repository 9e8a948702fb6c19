"""The ``amber`` command: one table of commands, one argparse parser, one error handler.

Every command is a row of :data:`COMMANDS`: its name, the module that implements it, and that
module's two functions: one adds the command's arguments to its sub-parser, the other runs it
with the parsed namespace and returns the exit code (``add_arguments``/``run``, unless the module
holds several commands). The parser (:mod:`amber.commands.parser`) has a sub-parser per row;
only the chosen command's module is imported and its sub-parser filled. ``amber --help`` fills
them all and shows each command's usage lines as its own ``--help`` does (:func:`usage`): nothing
here writes a usage line by hand.

``run``, ``snapshot`` and ``restore`` run a program (:mod:`amber.commands.launch`): Amber's
options come before SCRIPT/IMAGE (or ``-m MODULE``) and everything after it belongs to the
program, ``--help`` included, so that split is made before argparse sees the words (argparse
would take the program's options for Amber's). Their plain spellings are read without importing
argparse (:func:`amber.commands.launch.quick_parse`, from the same declarations): the command
hands over to a second interpreter at once, and argparse would be most of this one's cost.

Errors are one ``amber: error: ...`` line ending with where to look (``see 'amber run --help'``)
and exit code 2 (:func:`amber.errors.entry_point`); ``--help`` and ``--version`` exit 0. Output
goes through :func:`amber.errors.output`: a closed standard output or a broken pipe is exit code
141 and no line, any other failure to write it one line (the exit codes: :mod:`amber.errors`).
"""

import sys

from amber.errors import UsageError, entry_point, finish_output

TYPE_CHECKING = False
if TYPE_CHECKING:
    from amber.commands.parser import Parser

__all__ = ["Command", "COMMANDS", "usage", "epilog", "make_parser", "main", "parse"]


class Command:
    """One row of the table: ``add(parser)`` and ``run(opts) -> int`` are functions of ``module``;
    ``options`` names the module's declaration of a command that runs a program (see
    :mod:`amber.commands.launch`), None for the others."""

    __slots__ = ("name", "module", "add", "run", "options", "summary")

    def __init__(self, name: str, module: str, add: str, run: str, options: "str | None",
                 summary: str) -> None:
        self.name = name
        self.module = module
        self.add = add
        self.run = run
        self.options = options
        self.summary = summary

    def load(self):
        """The module of the command, imported (``__import__`` then ``sys.modules``, not
        ``importlib.import_module``: importing importlib costs more than this whole quick path)."""
        __import__(self.module)
        return sys.modules[self.module]


COMMANDS = (
    Command("run", "amber.commands.launch", "run_arguments", "run", "RUN",
            "run SCRIPT: restore it from the image cache when a fresh image is there, else run it "
            "normally and build the image at its snapshot point"),
    Command("snapshot", "amber.commands.launch", "snapshot_arguments", "snapshot", "SNAPSHOT",
            "run SCRIPT (or MODULE) as __main__ up to its snapshot point and write IMAGE"),
    Command("restore", "amber.commands.launch", "restore_arguments", "restore", "RESTORE",
            "restore a fresh process from IMAGE and resume right after the snapshot point"),
    Command("debug", "amber.commands.launch", "debug_arguments", "debug", "DEBUG",
            "restore IMAGE and stop in pdb right after the snapshot point, with the restored state"),
    Command("inspect", "amber.commands.inspect", "add_arguments", "run", None,
            "show what IMAGE holds; --base-set lists the modules every restore starts with"),
    Command("cache", "amber.commands.cache", "add_arguments", "run", None,
            "list or clear amber run's image cache"),
    Command("pool", "amber.commands.pool", "add_arguments", "run", None,
            "start, list or stop pools: instances of IMAGE forked from a resident parent in milliseconds"),
    Command("keygen", "amber.commands.keys", "keygen_arguments", "keygen", None,
            "make an Ed25519 key pair: images made here are signed with it"),
    Command("trust", "amber.commands.keys", "trust_arguments", "trust", None,
            "restore images signed by this public key (made by `amber keygen` elsewhere)"),
)
_BY_NAME = {command.name: command for command in COMMANDS}

def usage(subparsers: "dict[str, Parser]") -> str:
    """The usage lines of ``amber --help``: each command's, as its own ``--help`` shows them (the
    options run and snapshot share as ``[OPTIONS]``, listed once in :func:`epilog`); the
    sub-parsers must be filled."""
    lines = []
    for command in COMMANDS:
        if command.options is not None:
            launch = command.load()
            declared = getattr(launch, command.options)
            lines += launch.usage_lines(f"amber {command.name}", declared, shared=launch.BUILD)
        else:  # from argparse, which makes it from the command's arguments (or the usage it set)
            text = subparsers[command.name].format_usage().strip().removeprefix("usage: ")
            lines += [line.strip().replace(" [-h]", "", 1) for line in text.splitlines()]
    lines.append("amber COMMAND --help | amber --version")
    return "\n       ".join(lines)  # aligned under argparse's "usage: "


def epilog() -> str:
    from amber.commands import launch

    shared = ", ".join(option.spelling() for option in launch.BUILD if not option.names_program)
    return (f"OPTIONS (run and snapshot): {shared}.\n"  # as written: the formatter keeps the lines
            "Amber's options come before SCRIPT/IMAGE; everything after it belongs to the program.\n"
            "`amber COMMAND --help` describes a command.")


def make_parser(only: "str | None" = None) -> "tuple[Parser, dict[str, Parser]]":
    """The ``amber`` parser and its sub-parsers; with ``only`` a command's name, only that
    command's arguments (the others would import their modules for nothing); else every
    command's, and the usage of each in ``amber --help``."""
    from amber.commands.parser import build_parser

    if only in _BY_NAME:
        return build_parser(COMMANDS, only=only)
    parser, subparsers = build_parser(COMMANDS, epilog=epilog())
    parser.usage = usage(subparsers)
    return parser, subparsers


def parse(argv: list[str]) -> "tuple[Command, object]":
    """(the command, its parsed options) for ``amber ARGV``; help and errors leave (SystemExit,
    UsageError)."""
    name = argv[0] if argv else ""
    if name == "help":  # `amber help [COMMAND]`
        argv = [*argv[1:2], "--help"]
        name = argv[0]
    if name not in _BY_NAME and not name.startswith("-"):
        raise UsageError(f"unknown command {name!r} (expected {', '.join(_BY_NAME)}); see 'amber --help'")
    command = _BY_NAME.get(name)
    program_args: list[str] = []
    if command is not None and command.options is not None:
        launch = command.load()
        declared = getattr(launch, command.options)
        head, program_args = launch.split_program(argv[1:], declared)
        quick = launch.quick_parse(head, declared, program_args)
        if quick is not None:
            return command, quick
        argv = [name, *head]
    parser, subparsers = make_parser(name)
    opts, extras = parser.parse_known_args(argv)
    if opts.command is None:
        parser.error(f"unknown option {extras[0]!r}" if extras else "no command given")
    command = _BY_NAME[opts.command]
    if extras:
        what = "option" if extras[0].startswith("-") else "argument"
        subparsers[command.name].error(f"unknown {what} {extras[0]!r} for {command.name}")
    if command.options is not None:
        opts.args = program_args
    return command, opts


def _dispatch(argv: list[str]) -> int:
    """Run ``amber ARGV``; what is left in standard output's buffer is flushed here, where a
    failure is still one line (or, for a closed output, an exit code: see :mod:`amber.errors`)."""
    try:
        if not argv:
            make_parser()[0].print_help()
            code = 2
        else:
            command, opts = parse(argv)
            code = int(getattr(command.load(), command.run)(opts))
    except SystemExit:  # --help, --version
        finish_output()
        raise
    finish_output()
    return code


def main(argv: "list[str] | None" = None) -> int:
    """``amber ARGV``; returns the exit code (``--help`` and errors leave by ``SystemExit``)."""
    return entry_point(lambda: _dispatch(list(sys.argv[1:] if argv is None else argv)))
