"""Entry point of the frozen app.

`tokenwise ARGS` is the command line of ``tokenwise.cli``. The app also starts itself as a
child process with ``sys.executable -m MODULE ARGS`` (the model preflight, the UI start-up
probe); in a frozen app sys.executable is this program, not Python, so `-m` is handled
here, for Tokenwise's own modules only.
"""

from __future__ import annotations

import runpy
import sys


def main() -> int:
    if len(sys.argv) >= 3 and sys.argv[1] == "-m":
        module = sys.argv[2]
        if module != "tokenwise" and not module.startswith("tokenwise."):
            print(f"tokenwise: -m runs Tokenwise's own modules, not {module}",  # noqa: T201
                  file=sys.stderr)
            return 2
        sys.argv = [sys.argv[0], *sys.argv[3:]]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        return 0
    from tokenwise.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
