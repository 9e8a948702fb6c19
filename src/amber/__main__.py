"""``python -m amber``: the same as the ``amber`` command."""

from amber.commands.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
