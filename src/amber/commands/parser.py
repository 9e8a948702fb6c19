"""The ``amber`` command's argparse parser: Amber's error format, and one sub-parser per command.

:class:`Parser` is argparse with errors as one line (``amber: error: MESSAGE; see 'amber run
--help'``, exit code 2, raised as a :class:`~amber.errors.UsageError` for the process's one
error handler), no abbreviated options, and a record of the options that take a value (for
"-o needs a file name"). :func:`build_parser` makes the parser from :data:`amber.commands.cli.COMMANDS`;
the usage lines and epilog of ``amber --help`` are :mod:`amber.commands.cli`'s.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any, NoReturn

from amber import __version__
from amber.errors import UsageError, output

if TYPE_CHECKING:
    from amber.commands.cli import Command

__all__ = ["Parser", "build_parser"]

# What an option's value is, by its metavar: for "-o needs a file name".
_VALUE_NOUNS = {"IMAGE": "a file name", "PKG": "a package name", "NAME": "a variable name",
                "MODULE": "a module name"}


class Parser(argparse.ArgumentParser):
    """argparse with Amber's error format, no abbreviated options, and the nouns of the values
    its options take."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)  # a prefix of an option is not that option
        super().__init__(*args, **kwargs)
        self.value_nouns: dict[str, str] = {}  # option string -> what its value is

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        action = super().add_argument(*args, **kwargs)
        if action.option_strings and action.nargs != 0:
            noun = _VALUE_NOUNS.get(str(action.metavar), "a value")
            self.value_nouns.update(dict.fromkeys(action.option_strings, noun))
        return action

    def _print_message(self, message: str, file: Any = None) -> None:
        """Help and ``--version`` go through :func:`amber.errors.output` (argparse's own would drop
        a failed write, or print to stderr when stdout is closed, and exit 0 all the same)."""
        if not message:
            return
        if file is None or file is sys.stdout:
            output(message)
        else:
            super()._print_message(message, file)

    def error(self, message: str) -> NoReturn:
        """One line (argparse would print the usage too), and where to look."""
        raise UsageError(f"{self._plain(message)}; see '{self.prog} --help'")

    def _plain(self, message: str) -> str:
        # "argument -o/--output: expected one argument" -> "-o needs a file name"
        head, _, tail = message.partition(": ")
        if head.startswith("argument ") and tail == "expected one argument":
            option = head[len("argument "):].split("/")[0]
            return f"{option} needs {self.value_nouns.get(option, 'a value')}"
        return message


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """``amber --help``'s: the commands listed one per row under "commands:", without argparse's
    row for the sub-parsers' metavar ("COMMAND") above them."""

    def _format_action(self, action: argparse.Action) -> str:
        if isinstance(action, argparse._SubParsersAction):  # stable since 3.2, typed by typeshed
            return "".join(self._format_action(sub) for sub in action._get_subactions())
        return super()._format_action(action)


def build_parser(commands: tuple[Command, ...], only: str | None = None,
                 epilog: str | None = None) -> tuple[Parser, dict[str, Parser]]:
    """The ``amber`` parser and its sub-parsers; with ``only``, just that command's arguments are
    added (the others would import their modules for nothing)."""
    parser = Parser(prog="amber", epilog=epilog,
                    description="Snapshot a running Python program into an image; restore fresh processes "
                                "from it, skipping the start-up work.",
                    formatter_class=_Formatter)
    parser.add_argument("--version", action="version", version=f"amber {__version__}")
    # prog given: argparse would otherwise make the sub-parsers' from the whole usage above.
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands", prog="amber",
                                       parser_class=Parser)
    made = {}
    for command in commands:
        sub = subparsers.add_parser(command.name, help=command.summary, description=command.summary)
        if only is None or command.name == only:
            getattr(command.load(), command.add)(sub)
        made[command.name] = sub
    return parser, made
