# Shape 2: a table-to-table copy as AWS's cross-account sample writes it: the scan connector reads
# the source (its role), the sink writes the target with explicit credentials.
import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(
    sys.argv,
    ["JOB_NAME", "source_table", "source_role_arn", "source_region", "target_table", "target_region",
     "target_access_key_id", "target_secret_access_key"],
)
glue_context = GlueContext(SparkContext.getOrCreate())
job = Job(glue_context)
job.init(args["JOB_NAME"], args)

dyf = glue_context.create_dynamic_frame_from_options(
    connection_type="dynamodb",
    connection_options={
        "dynamodb.input.tableName": args["source_table"],
        "dynamodb.region": args["source_region"],
        "dynamodb.sts.roleArn": args["source_role_arn"],
        "dynamodb.splits": "4",
        "dynamodb.throughput.read.percent": "1.0",
    },
)
print(f"read {dyf.count()} items")
glue_context.write_dynamic_frame_from_options(
    frame=dyf,
    connection_type="dynamodb",
    connection_options={
        "dynamodb.region": args["target_region"],
        "dynamodb.output.tableName": args["target_table"],
        "dynamodb.awsAccessKeyId": args["target_access_key_id"],
        "dynamodb.awsSecretAccessKey": args["target_secret_access_key"],
        "dynamodb.throughput.write.percent": "1.0",
    },
)
job.commit()
