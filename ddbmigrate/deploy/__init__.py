"""``glue_jobs.yaml`` → AWS: validate the file, plan the calls, deploy, start and follow runs.

* :mod:`~ddbmigrate.deploy.config` — the file's models, ``${VAR}`` placeholders, validation that
  names the key at fault;
* :mod:`~ddbmigrate.deploy.plan` — desired state → the API calls that change something (pure);
* :mod:`~ddbmigrate.deploy.apply` — build the wheel, read the live state, make the calls;
* :mod:`~ddbmigrate.deploy.start` — ``StartJobRun`` with overrides, follow, Glue Studio links.

>>> config = load_config("glue_jobs.yaml", {"ARTIFACT_BUCKET": "b", "GLUE_ROLE_ARN": "r"})  # doctest: +SKIP
>>> result = deploy(config, Account(profile="target"), dry_run=True)                       # doctest: +SKIP
>>> [call.describe() for call in result.calls]                                              # doctest: +SKIP
"""

from __future__ import annotations

from ddbmigrate.deploy.apply import DeployResult, deploy
from ddbmigrate.deploy.config import DeployConfig, load_config, parse_vars
from ddbmigrate.deploy.plan import ApiCall, plan
from ddbmigrate.deploy.start import RunOverrides, follow_run, run_console_url, start_request, start_run

__all__ = [
    "ApiCall",
    "DeployConfig",
    "DeployResult",
    "RunOverrides",
    "deploy",
    "follow_run",
    "load_config",
    "parse_vars",
    "plan",
    "run_console_url",
    "start_request",
    "start_run",
]
