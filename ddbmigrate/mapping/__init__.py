"""ApplyMapping rules that restore names, types and nested maps losslessly.

* :mod:`~ddbmigrate.mapping.rules` — generate the 4-tuples from a schema; parse and check rules;
* :mod:`~ddbmigrate.mapping.file` — ``mappings/NAME.json``: build, save, load, validate;
* :mod:`~ddbmigrate.mapping.convert` — mapped rows back to DynamoDB items (the writer's half);
* :mod:`~ddbmigrate.mapping.items` — a mapping applied to one wire item (table copy, verify);
* :mod:`~ddbmigrate.mapping.spark` — ``apply_mapping`` for Spark DataFrames (imports pyspark);
* :mod:`~ddbmigrate.mapping.catalog` — a Glue Data Catalog table's schema (``--catalog``);
* :mod:`~ddbmigrate.mapping.types` — Glue type names.

>>> from ddbmigrate.schema import infer_schema
>>> mapping = build_mapping(infer_schema([{"pk": {"S": "a"}, "n": {"N": "1.5"}}]))
>>> mapping.glue_tuples()
[('Item.n.N', 'string', 'n', 'string'), ('Item.pk.S', 'string', 'pk', 'string')]
>>> row_to_item({"pk": "a", "n": "1.5"}, mapping)
{'n': {'N': '1.5'}, 'pk': {'S': 'a'}}
"""

from __future__ import annotations

from ddbmigrate.mapping.convert import CAST_FAILURES_COLUMN, row_to_item
from ddbmigrate.mapping.file import (
    MAPPING_FORMAT,
    MappingFile,
    build_mapping,
    dumps_mapping,
    glue_python,
    load_mapping,
    loads_mapping,
    save_mapping,
)
from ddbmigrate.mapping.rules import GlueTuple, Rule, compile_rules, generate_mappings

__all__ = [
    "CAST_FAILURES_COLUMN",
    "MAPPING_FORMAT",
    "GlueTuple",
    "MappingFile",
    "Rule",
    "build_mapping",
    "compile_rules",
    "dumps_mapping",
    "generate_mappings",
    "glue_python",
    "load_mapping",
    "loads_mapping",
    "row_to_item",
    "save_mapping",
]
