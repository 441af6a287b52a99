"""AWS Glue job: import a native DynamoDB export into a table of another account, losslessly.

Arguments (Glue passes them as ``--name value``): ``--JOB_NAME``, ``--export_uri``, ``--mapping``
(a path or ``s3://BUCKET/KEY.json``), ``--target_table``; optional ``--target_region``, ``--target_role_arn``,
``--target_external_id``, ``--write_percent`` (0.1–1.5, default 0.5), ``--write_capacity``
(absolute WCU, for on-demand tables), ``--parallel_tasks``, ``--dead_letter``, ``--max_retries``,
``--requests_in_flight`` (writers per task, default 2), ``--apply_mapping`` (``auto``, the default: rules that only rename, drop or nest are applied item by
item, with the same result; ``always``: ApplyMapping on a DynamicFrame whatever the rules), and locally ``--target_profile``. The pipeline is :mod:`ddbmigrate.bulk`; this script only wires
Glue's arguments, context and job to it. It exits non-zero when anything was dead-lettered or the
counts do not reconcile.
"""

import sys

from ddbmigrate.gluelocal import install_awsglue_shim

install_awsglue_shim()  # a no-op on AWS Glue and in the Glue Docker image, where real awsglue works

from awsglue.context import GlueContext  # noqa: E402
from awsglue.job import Job  # noqa: E402
from awsglue.utils import getResolvedOptions  # noqa: E402
from pyspark.context import SparkContext  # noqa: E402

from ddbmigrate.bulk import ExportImportOptions, run_export_import  # noqa: E402

REQUIRED = ["JOB_NAME", "export_uri", "mapping", "target_table"]
OPTIONAL = ["target_profile", "target_region", "target_endpoint_url", "target_role_arn", "target_external_id", "write_percent",
            "write_capacity", "parallel_tasks", "dead_letter", "max_retries", "requests_in_flight", "apply_mapping"]

args = getResolvedOptions(sys.argv, REQUIRED + [name for name in OPTIONAL if f"--{name}" in sys.argv])
glue_context = GlueContext(SparkContext.getOrCreate())
job = Job(glue_context)
job.init(args["JOB_NAME"], args)
result = run_export_import(glue_context.spark_session, ExportImportOptions.from_job_args(args), glue_context=glue_context)
for line in result.summary_lines():
    print(line)
job.commit()
if not result.ok:
    sys.exit(1)
