"""App 6, a command-line tool start: a click command group of 40 commands with rich output;
answers ``report --rows 5`` as a user would type it."""

import sys

import click
from rich.console import Console
from rich.table import Table

console = Console(width=100, force_terminal=False, color_system=None)


@click.group()
def cli() -> None:
    """A tool with many commands, like the ones users start dozens of times a day."""


def add_command(i: int) -> None:
    @cli.command(name=f"task{i}")
    @click.option("--count", default=1, type=int)
    @click.argument("names", nargs=-1)
    def task(count: int, names: tuple) -> None:
        console.print(f"task{i}", count, names)


for i in range(40):
    add_command(i)


@cli.command()
@click.option("--rows", default=3, type=int)
def report(rows: int) -> None:
    table = Table(title="Report")
    for col in ("id", "name", "score"):
        table.add_column(col)
    for r in range(rows):
        table.add_row(str(r), f"name-{r}", f"{r * 1.5:.1f}")
    console.print(table)


def main() -> None:
    cli.main(args=sys.argv[1:] or ["report", "--rows", "5"], prog_name="cli_tool", standalone_mode=False)


if __name__ == "__main__":
    main()
