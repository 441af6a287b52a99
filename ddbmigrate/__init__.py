"""ddbmigrate: move a live DynamoDB table into another AWS account, losslessly, on AWS Glue.

The library is shared by the Glue job scripts in ``jobs/``, the ``ddbmigrate`` CLI and the stream
replication Lambda. Pure modules (``values``, ``mapping``, ``ratelimit``, ``digest``) import neither
boto3 nor Spark; I/O lives at the edges.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
