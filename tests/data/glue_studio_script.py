# A job script in the shape AWS Glue Studio generates (S3 JSON source → ApplyMapping → DynamoDB
# target), unchanged: no ddbmigrate import. tests/test_gluelocal.py runs it with
# ddbmigrate.gluelocal.run_script against moto S3 and DynamoDB Local.
import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.transforms import *  # noqa: F403 - as Glue Studio writes it
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "input_path", "target_table", "write_percent"])
sc = SparkContext()
glueContext = GlueContext(sc)
spark = glueContext.spark_session
job = Job(glueContext)
job.init(args["JOB_NAME"], args)

# Script generated for node S3 bucket
S3bucket_node1 = glueContext.create_dynamic_frame.from_options(
    format_options={"multiline": False},
    connection_type="s3",
    format="json",
    connection_options={"paths": [args["input_path"]], "recurse": True},
    transformation_ctx="S3bucket_node1",
)

# Script generated for node ApplyMapping
ApplyMapping_node2 = ApplyMapping.apply(  # noqa: F405
    frame=S3bucket_node1,
    mappings=[
        ("Item.pk.S", "string", "pk", "string"),
        ("Item.Pk.S", "string", "Pk", "string"),
        ("Item.qty.N", "string", "qty", "long"),
        ("Item.price.N", "string", "price", "decimal(10,2)"),
        ("Item.address.M.city.S", "string", "address.city", "string"),
        ("Item.active.BOOL", "boolean", "active", "boolean"),
    ],
    case_sensitive=True,
    transformation_ctx="ApplyMapping_node2",
)

print(f"mapped {ApplyMapping_node2.count()} records")

# Script generated for node Amazon DynamoDB
glueContext.write_dynamic_frame_from_options(
    frame=ApplyMapping_node2,
    connection_type="dynamodb",
    connection_options={
        "dynamodb.output.tableName": args["target_table"],
        "dynamodb.throughput.write.percent": args["write_percent"],
    },
)

job.commit()
