"""AWS Glue job: import a native DynamoDB export into a table of another account, losslessly.

Its arguments (Glue passes them as ``--name value``) are declared once, in
:data:`ddbmigrate.jobargs.EXPORT_IMPORT`: names, defaults, ranges and help (``ddbmigrate run
export-import --help`` prints them; docs/copy.md and docs/deploy.md explain them). The pipeline is
:mod:`ddbmigrate.bulk`; this script only wires Glue's arguments, context and job to it. It exits
non-zero when anything was dead-lettered or the counts do not reconcile.
"""

import sys

from ddbmigrate.gluelocal import install_awsglue_shim

install_awsglue_shim()  # a no-op on AWS Glue and in the Glue Docker image, where real awsglue works

from awsglue.context import GlueContext  # noqa: E402
from awsglue.job import Job  # noqa: E402
from awsglue.utils import getResolvedOptions  # noqa: E402
from pyspark.context import SparkContext  # noqa: E402

from ddbmigrate.bulk import ExportImportOptions, run_export_import  # noqa: E402
from ddbmigrate.jobargs import EXPORT_IMPORT  # noqa: E402

args = getResolvedOptions(sys.argv, EXPORT_IMPORT.resolved_names(sys.argv))
options = ExportImportOptions.from_job_args(args)  # every argument checked before Spark starts
glue_context = GlueContext(SparkContext.getOrCreate())
job = Job(glue_context)
job.init(args["JOB_NAME"], args)
result = run_export_import(glue_context.spark_session, options, glue_context=glue_context)
for line in result.summary_lines():
    print(line)
job.commit()
if not result.ok:
    sys.exit(1)
