# Shape 3: the DynamoDB export connector as Glue Studio generates it (dynamodb.export=ddb,
# unnestDDBJson), reading the source account's table through its role and feeding the DynamoDB sink.
# Unchanged Glue code: tests/test_glue_scripts.py runs it locally.
import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(
    sys.argv, ["JOB_NAME", "source_table_arn", "source_role_arn", "export_bucket", "export_prefix", "target_table"]
)
sc = SparkContext()
glueContext = GlueContext(sc)
spark = glueContext.spark_session
job = Job(glueContext)
job.init(args["JOB_NAME"], args)

# Script generated for node Amazon DynamoDB
AmazonDynamoDB_node1 = glueContext.create_dynamic_frame.from_options(
    connection_type="dynamodb",
    connection_options={
        "dynamodb.export": "ddb",
        "dynamodb.s3.bucket": args["export_bucket"],
        "dynamodb.s3.prefix": args["export_prefix"],
        "dynamodb.tableArn": args["source_table_arn"],
        "dynamodb.sts.roleArn": args["source_role_arn"],
        "dynamodb.unnestDDBJson": True,
    },
    transformation_ctx="AmazonDynamoDB_node1",
)
print(f"exported {AmazonDynamoDB_node1.count()} items")

# Script generated for node Amazon DynamoDB sink
glueContext.write_dynamic_frame_from_options(
    frame=AmazonDynamoDB_node1,
    connection_type="dynamodb",
    connection_options={"dynamodb.output.tableName": args["target_table"], "dynamodb.throughput.write.percent": "1.0"},
)
job.commit()
