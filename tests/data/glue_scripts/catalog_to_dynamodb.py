# Shape 1: a Data Catalog source (the crawled export's data/ folder), a hand-written ApplyMapping,
# the DynamoDB sink. Unchanged Glue code: tests/test_glue_scripts.py runs it locally after
# 'ddbmigrate crawl EXPORT --register DB.TABLE'.
import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.transforms import ApplyMapping
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "database", "table_name", "target_table"])
glueContext = GlueContext(SparkContext.getOrCreate())
job = Job(glueContext)
job.init(args["JOB_NAME"], args)

source = glueContext.create_dynamic_frame.from_catalog(
    database=args["database"], table_name=args["table_name"], transformation_ctx="source"
)
mapped = ApplyMapping.apply(
    frame=source,
    mappings=[
        ("item.pk.S", "string", "pk", "string"),
        ("item.qty.N", "string", "qty", "long"),
        ("item.price.N", "string", "price", "string"),
        ("item.ok.BOOL", "boolean", "ok", "boolean"),
        ("item.tags.SS", "array", "tags", "array"),
        ("item.address.M.city.S", "string", "address.city", "string"),
    ],
    case_sensitive=True,
    transformation_ctx="mapped",
)
glueContext.write_dynamic_frame_from_options(
    frame=mapped,
    connection_type="dynamodb",
    connection_options={"dynamodb.output.tableName": args["target_table"], "dynamodb.throughput.write.percent": "1.0"},
)
job.commit()
