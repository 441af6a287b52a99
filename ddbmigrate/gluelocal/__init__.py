"""A local stand-in for the part of AWS Glue's ``awsglue`` library that our jobs and typical Glue
Studio scripts use, so that one script runs on AWS Glue, in the Glue Docker image and on plain
PySpark (docs/architecture.md, "The local runtime"). Real ``awsglue`` wins whenever it is importable and working.

A job script starts with::

    from ddbmigrate.gluelocal import install_awsglue_shim
    install_awsglue_shim()  # no-op where the real awsglue works (AWS Glue, the Glue Docker image)

    from awsglue.context import GlueContext  # …then the usual Glue imports

:func:`run_script` runs a script file as Glue would (arguments, SparkSession, exit code). What is
supported and what is not: ``docs/gluelocal.md`` and the docstrings of the submodules, which
mirror ``awsglue``'s: :mod:`.context`, :mod:`.dynamicframe`, :mod:`.transforms`, :mod:`.utils`,
:mod:`.job`, :mod:`.gluetypes`.
"""

from __future__ import annotations

from ddbmigrate.gluelocal.runner import glue_argv, local_spark_session, run_script
from ddbmigrate.gluelocal.shim import AwsGlueStatus, awsglue_status, install_awsglue_shim

__all__ = [
    "AwsGlueStatus",
    "awsglue_status",
    "glue_argv",
    "install_awsglue_shim",
    "local_spark_session",
    "run_script",
]
