"""An embedded IPython shell: InteractiveShell made at start-up with history off, start-up cells
run (imports, a function, a magic); the main block runs more cells as a notebook would. Needs: IPython (ipython)."""
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

config = Config()
config.HistoryManager.enabled = False
config.InteractiveShell.colors = "nocolor"
shell = InteractiveShell.instance(config=config)
shell.run_cell("import math, statistics\ndata = [3, 1, 4, 1, 5, 9, 2, 6]")
shell.run_cell("def summary(xs):\n    return {'n': len(xs), 'mean': statistics.mean(xs), 'max': max(xs)}")
shell.run_line_magic("alias_magic", "smry timeit")

CELLS = [
    "summary(data)",
    "sorted(data)[-3:]",
    "squares = [x * x for x in data]\nsum(squares)",
    "%who_ls function",
    "math.factorial(20) // 2**10",
    "1 / 0",
    "_3 + 1",
]

if __name__ == "__main__":
    for cell in CELLS:
        result = shell.run_cell(cell, store_history=True, silent=False)
        err = result.error_in_exec
        print(f"In [{result.execution_count}]: {cell.splitlines()[-1]!r} ->",
              type(err).__name__ if err else repr(result.result))
    print(sorted(k for k in shell.user_ns if not k.startswith("_") and k[0].islower())[:8])
    print(shell.find_magic("smry") is not None, shell.user_ns["squares"][:3])
