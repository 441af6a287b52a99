"""``python -m ddbmigrate`` — the same as the ``ddbmigrate`` console script."""

from __future__ import annotations

import sys

from ddbmigrate.cli.main import main

sys.exit(main())
