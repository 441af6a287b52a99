"""Runs *inside* the Glue 5.0 worker venv of tests/test_glue_worker.py — not a pytest module.

It gets one JSON request (argv[1]) and prints one JSON report: it imports every worker module,
runs each job script's own statements up to its first Spark call (the awsglue shim, the imports,
``getResolvedOptions``) plus the option parse the test gives, loads a mapping file as the Glue
driver does, and makes a DynamoDB client with our botocore config. Only stdlib and what the venv
holds (Glue's pins and our wheel) may be imported here.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import importlib.metadata
import json
import sys
from pathlib import Path
from typing import Any

_SPARK_STARTS = ("SparkContext.getOrCreate", "GlueContext(", "SparkSession.builder")
"""A script's statements are run up to the first one that would start Spark (not needed to parse)."""


def run_job_parse(script: Path, argv: list[str], options_code: str) -> dict[str, Any]:
    """Run ``script``'s statements before its first Spark call with ``sys.argv = argv``; when they
    did not set ``options`` themselves, ``options_code`` makes it from their ``args``. The fields."""
    source = script.read_text(encoding="utf-8")
    kept = []
    for statement in ast.parse(source).body:
        if any(marker in ast.get_source_segment(source, statement) for marker in _SPARK_STARTS):
            break
        kept.append(statement)
    namespace: dict[str, Any] = {"__name__": "__glue_job__", "__file__": str(script)}
    sys.argv = [str(script), *argv]
    exec(compile(ast.Module(body=kept, type_ignores=[]), str(script), "exec"), namespace)
    if "options" not in namespace:
        exec(compile(options_code, f"<options of {script.name}>", "exec"), namespace)
    options = namespace["options"]
    return {"args": dict(namespace["args"]), "options_type": type(options).__name__,
            "options": {f.name: repr(getattr(options, f.name)) for f in dataclasses.fields(options)}}


def main() -> None:
    request = json.loads(sys.argv[1])
    for name in request["modules"]:
        importlib.import_module(name)
    jobs = {job["script"]: run_job_parse(Path(job["script"]), job["argv"], job["options_code"])
            for job in request["jobs"]}

    from ddbmigrate.accounts import Account
    from ddbmigrate.mapping.file import load_mapping

    mapping = load_mapping(request["mapping_file"])
    client = Account(region="us-east-1").client("dynamodb")
    import botocore

    report = {
        "python": list(sys.version_info[:2]),
        "botocore": botocore.__version__,
        "client": type(client).__name__,
        "mapping_rules": len(mapping.rules),
        "jobs": jobs,
        "top_level_modules": sorted({name.split(".")[0] for name in sys.modules}),
        "distributions": sorted(dist.metadata["Name"].lower() for dist in importlib.metadata.distributions()),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
