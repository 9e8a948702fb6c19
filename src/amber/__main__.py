"""``python -m amber``: the same as the ``amber`` command."""

import sys

if __name__ == "__main__":
    try:
        from amber.commands.cli import main

        code = main()
    except KeyboardInterrupt:  # while Amber's own modules are imported (main handles the rest)
        sys.stderr.write("amber: interrupted\n")
        code = 130
    raise SystemExit(code)
