"""A Typer command-line app with type-annotated options over a todo list built at start-up;
run without arguments it prints the default report. Needs: typer."""
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated

import typer


class Priority(StrEnum):
    low = "low"
    normal = "normal"
    high = "high"


@dataclass
class Task:
    title: str
    priority: Priority = Priority.normal
    done: bool = False
    tags: list[str] = field(default_factory=list)


TASKS = [
    Task("write release notes", Priority.high, tags=["docs"]),
    Task("fix flaky test", Priority.high, done=True, tags=["ci"]),
    Task("rename config keys", Priority.low, tags=["cleanup", "config"]),
    Task("answer issue #42", tags=["support"]),
]
ORDER = {Priority.high: 0, Priority.normal: 1, Priority.low: 2}

app = typer.Typer(add_completion=False)


@app.command()
def report(priority: Annotated[Priority | None, typer.Option(help="Only this priority.")] = None,
           show_done: Annotated[bool, typer.Option("--show-done/--hide-done")] = True,
           width: Annotated[int, typer.Option(min=10, max=80)] = 30):
    """Print the tasks, most urgent first."""
    tasks = sorted(TASKS, key=lambda t: (ORDER[t.priority], t.title))
    for t in tasks:
        if priority and t.priority != priority:
            continue
        if t.done and not show_done:
            continue
        mark = "x" if t.done else " "
        typer.echo(f"[{mark}] {t.title:<{width}} {t.priority.value:>6}  {','.join(t.tags)}")
    open_count = sum(not t.done for t in TASKS)
    typer.echo(f"{open_count} open, {len(TASKS) - open_count} done")


if __name__ == "__main__":
    app()
