"""``python -m ddbmigrate`` — the same as the ``ddbmigrate`` console script.

The command line needs the ``cli`` extra (click, rich, PyYAML, pydantic), which the Glue workers
do not have and do not need: without it, say how to install it in one line instead of a traceback.
"""

from __future__ import annotations

import sys

from ddbmigrate.errors import ConfigError

__all__ = ["CLI_EXTRA_HINT", "run"]

CLI_EXTRA_HINT = "pip install 'ddbmigrate[cli]'"


def run() -> int:
    """Run the CLI, or print what to install when a package of the ``cli`` extra is missing."""
    try:
        from ddbmigrate.cli.main import main
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] == "ddbmigrate":
            raise
        print(f"ddbmigrate: error: the command line needs the 'cli' extra ({exc.name} is not installed): "
              f"{CLI_EXTRA_HINT}", file=sys.stderr)
        return ConfigError.exit_code
    return main()


if __name__ == "__main__":
    sys.exit(run())
