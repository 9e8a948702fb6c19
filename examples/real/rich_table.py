"""Formats a table with rich: the console and table are built at start-up.
Needs: rich."""
from rich.console import Console
from rich.table import Table
console = Console(width=80, force_terminal=False, color_system=None)
table = Table(title="Planets")
for col in ("Name", "Mass", "Moons"):
    table.add_column(col)
for row in [("Mercury", "0.33", "0"), ("Venus", "4.87", "0"), ("Earth", "5.97", "1")]:
    table.add_row(*row)
if __name__ == "__main__":
    console.print(table)
    console.print("[bold]done[/bold]", {"a": [1, 2]})
