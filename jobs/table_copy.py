"""AWS Glue job: copy a DynamoDB table into a table of another account with a parallel Scan.

Its arguments (Glue passes them as ``--name value``) are declared once, in
:data:`ddbmigrate.jobargs.TABLE_COPY`: names, defaults, ranges and help (``ddbmigrate run
table-copy --help`` prints them). The pipeline is :mod:`ddbmigrate.copy`; this script only wires
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

from ddbmigrate.copy import TableCopyOptions, run_table_copy  # noqa: E402
from ddbmigrate.jobargs import TABLE_COPY  # noqa: E402

args = getResolvedOptions(sys.argv, TABLE_COPY.resolved_names(sys.argv))
options = TableCopyOptions.from_job_args(args)  # every argument checked before Spark starts
glue_context = GlueContext(SparkContext.getOrCreate())
job = Job(glue_context)
job.init(args["JOB_NAME"], args)
result = run_table_copy(glue_context.spark_session, options)
for line in result.summary_lines():
    print(line)
job.commit()
if not result.ok:
    sys.exit(1)
