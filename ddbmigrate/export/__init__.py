"""The native point-in-time export: trigger it, emulate it locally, open, read and check it.

* :mod:`~ddbmigrate.export.layout` — names, manifests, checksums, data lines (pure);
* :mod:`~ddbmigrate.export.reader` — :func:`open_export`, :class:`ExportHandle`, :class:`DataFile`,
  :func:`read_lines` (one file, given only its manifest entry and a client);
* :mod:`~ddbmigrate.export.trigger` — ``ExportTableToPointInTime`` with PITR checks and waiting;
* :mod:`~ddbmigrate.export.emulate` — the same files from a scan, for DynamoDB Local;
* :mod:`~ddbmigrate.export.ownership` — ``bucket-owner-full-control`` on a cross-account export.

>>> export = open_export("s3://bucket/p/AWSDynamoDB/01700000000000-0a1b2c3d/", s3)   # doctest: +SKIP
>>> for data_file in export.data_files:                                            # doctest: +SKIP
...     for line_no, item in export.iter_items(data_file, verify=True): ...
"""

from __future__ import annotations

from ddbmigrate.export.emulate import emulate_export
from ddbmigrate.export.ownership import OwnershipResult, fix_ownership
from ddbmigrate.export.reader import (
    CheckReport,
    DataFile,
    ExportHandle,
    open_export,
    read_lines,
    verify_data_file,
)
from ddbmigrate.export.trigger import (
    ExportOutcome,
    ExportRequest,
    export_folder_uri,
    run_export,
    wait_for_export,
)

__all__ = [
    "CheckReport",
    "DataFile",
    "ExportHandle",
    "ExportOutcome",
    "ExportRequest",
    "OwnershipResult",
    "emulate_export",
    "export_folder_uri",
    "fix_ownership",
    "open_export",
    "read_lines",
    "run_export",
    "verify_data_file",
    "wait_for_export",
]
