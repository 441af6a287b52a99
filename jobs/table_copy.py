"""AWS Glue job: copy a DynamoDB table into a table of another account with a parallel Scan.

Arguments (Glue passes them as ``--name value``): ``--JOB_NAME``, ``--source_table`` and
``--target_table`` (names or ARNs); optional ``--source_region``, ``--source_role_arn``,
``--source_external_id``, ``--read_percent`` (0.1–1.5 of the source's RCU, default 0.5),
``--read_capacity`` (absolute RCU, for on-demand sources, which otherwise count as 40,000),
``--splits`` (Scan segments; default the job's task slots), ``--consistent_read`` (true/false),
``--mapping`` (a file of renames), the target's ``--target_region``, ``--target_role_arn``,
``--target_external_id``, ``--write_percent``, ``--write_capacity``, ``--parallel_tasks``,
``--dead_letter``, ``--max_retries``, ``--requests_in_flight``, and locally ``--source_profile`` / ``--target_profile``
(and ``--*_endpoint_url``). The pipeline is :mod:`ddbmigrate.copy`; this script only wires Glue's
arguments, context and job to it. It exits non-zero when anything was dead-lettered or the counts
do not reconcile.
"""

import sys

from ddbmigrate.gluelocal import install_awsglue_shim

install_awsglue_shim()  # a no-op on AWS Glue and in the Glue Docker image, where real awsglue works

from awsglue.context import GlueContext  # noqa: E402
from awsglue.job import Job  # noqa: E402
from awsglue.utils import getResolvedOptions  # noqa: E402
from pyspark.context import SparkContext  # noqa: E402

from ddbmigrate.copy import TableCopyOptions, run_table_copy  # noqa: E402

REQUIRED = ["JOB_NAME", "source_table", "target_table"]
OPTIONAL = [f"{side}_{name}" for side in ("source", "target")
            for name in ("profile", "region", "endpoint_url", "role_arn", "external_id")] + [
    "read_percent", "read_capacity", "splits", "consistent_read", "mapping",
    "write_percent", "write_capacity", "parallel_tasks", "dead_letter", "max_retries", "requests_in_flight"]

args = getResolvedOptions(sys.argv, REQUIRED + [name for name in OPTIONAL if f"--{name}" in sys.argv])
glue_context = GlueContext(SparkContext.getOrCreate())
job = Job(glue_context)
job.init(args["JOB_NAME"], args)
result = run_table_copy(glue_context.spark_session, TableCopyOptions.from_job_args(args))
for line in result.summary_lines():
    print(line)
job.commit()
if not result.ok:
    sys.exit(1)
