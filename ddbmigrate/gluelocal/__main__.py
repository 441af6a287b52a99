"""``python -m ddbmigrate.gluelocal SCRIPT [--name value …]``: run a Glue script locally.

Runs ``SCRIPT`` with :func:`ddbmigrate.gluelocal.run_script` in a new local SparkSession and
exits with the script's exit code. Job arguments follow the script path exactly as Glue passes
them (``--JOB_NAME`` … are added when missing). Log lines of the local runtime go to stderr.
"""

from __future__ import annotations

import logging
import sys

from ddbmigrate.errors import DdbMigrateError
from ddbmigrate.gluelocal.runner import run_script

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(__doc__.strip().splitlines()[0].strip("`").replace("``", ""), file=sys.stderr)
        return 0 if args else 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return run_script(args[0], args[1:])
    except DdbMigrateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
