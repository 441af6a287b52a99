"""Decide between the real ``awsglue`` and the local stand-in, and register the stand-in.

Real Glue wins whenever it can work: on AWS Glue and in the Glue Docker image the ``awsglue``
package is importable and Glue's JVM classes are on Spark's class path. The stand-in is used
when ``awsglue`` cannot be imported, when importing it fails, or when a SparkContext is running
whose JVM lacks ``com.amazonaws.services.glue.GlueContext`` (the ``awsglue`` Python package
installed without Glue's jars — its GlueContext would fail on first use). That check asks the
running JVM whether the class exists (one py4j round trip, no side effects); it needs a running
SparkContext, and the shim never starts one (a script's own ``SparkContext(conf=…)`` must stay
the one that launches Spark). Without a SparkContext an importable ``awsglue`` is trusted.
``DDBMIGRATE_GLUELOCAL=1`` forces the stand-in, ``DDBMIGRATE_GLUELOCAL=0`` forbids it.

Registering means putting our modules into ``sys.modules`` under ``awsglue``,
``awsglue.context``, ``awsglue.dynamicframe``, ``awsglue.transforms``, ``awsglue.utils``,
``awsglue.job`` and ``awsglue.gluetypes``; it is idempotent and lasts for the process.
"""

from __future__ import annotations

import enum
import importlib
import logging
import os
import sys
import types
from typing import Any

from ddbmigrate.errors import ConfigError

__all__ = ["GLUE_CONTEXT_CLASS", "AwsGlueStatus", "awsglue_status", "install_awsglue_shim", "jvm_has_class"]

log = logging.getLogger("ddbmigrate.gluelocal")

GLUE_CONTEXT_CLASS = "com.amazonaws.services.glue.GlueContext"
"""The JVM class real ``awsglue`` cannot work without."""

_MARKER = "__ddbmigrate_gluelocal__"
_SUBMODULES = ("context", "dynamicframe", "transforms", "utils", "job", "gluetypes")


class AwsGlueStatus(enum.Enum):
    """What :func:`awsglue_status` found."""

    SHIM = "the local stand-in is installed"
    ABSENT = "awsglue is not importable"
    BROKEN = "importing awsglue failed"
    NO_GLUE_JVM = "awsglue is importable but the running JVM has no Glue classes"
    WORKING = "awsglue is importable and the running JVM has Glue's classes"
    UNVERIFIED = "awsglue is importable; no SparkContext is running to check its JVM classes"

    @property
    def use_shim(self) -> bool:
        return self in (AwsGlueStatus.SHIM, AwsGlueStatus.ABSENT, AwsGlueStatus.BROKEN, AwsGlueStatus.NO_GLUE_JVM)


def jvm_has_class(spark_context: Any, class_name: str) -> bool:
    """Whether the JVM behind ``spark_context`` can load ``class_name`` (py4j reflection, read-only)."""
    from py4j.java_gateway import JavaClass

    node: Any = spark_context._jvm
    for part in class_name.split("."):
        node = getattr(node, part)
    return isinstance(node, JavaClass)


def _forget_awsglue() -> None:
    for name in [n for n in sys.modules if n == "awsglue" or n.startswith("awsglue.")]:
        del sys.modules[name]


def awsglue_status() -> AwsGlueStatus:
    """Classify the ``awsglue`` this process would get (module docstring); never starts Spark."""
    current = sys.modules.get("awsglue")
    if current is not None and getattr(current, _MARKER, False):
        return AwsGlueStatus.SHIM
    try:
        importlib.import_module("awsglue.context")
    except ImportError:
        _forget_awsglue()
        return AwsGlueStatus.ABSENT
    except Exception as exc:  # a broken installation: anything its import raises
        log.info("importing awsglue failed: %s: %s", type(exc).__name__, exc)
        _forget_awsglue()
        return AwsGlueStatus.BROKEN
    from pyspark import SparkContext

    active = SparkContext._active_spark_context
    if active is None:
        return AwsGlueStatus.UNVERIFIED
    return AwsGlueStatus.WORKING if jvm_has_class(active, GLUE_CONTEXT_CLASS) else AwsGlueStatus.NO_GLUE_JVM


def _register() -> None:
    _forget_awsglue()
    modules = {name: importlib.import_module(f"ddbmigrate.gluelocal.{name}") for name in _SUBMODULES}
    root = types.ModuleType("awsglue", "Local stand-in for AWS Glue's awsglue package (ddbmigrate.gluelocal).")
    root.__path__ = []  # a package, so that "import awsglue.context" looks in sys.modules
    setattr(root, _MARKER, True)
    root.DynamicFrame = modules["dynamicframe"].DynamicFrame  # type: ignore[attr-defined]
    root.__all__ = ["DynamicFrame"]  # type: ignore[attr-defined]
    sys.modules["awsglue"] = root
    for name, module in modules.items():
        sys.modules[f"awsglue.{name}"] = module
        setattr(root, name, module)


def install_awsglue_shim(*, force: bool | None = None) -> bool:
    """Register the local stand-in as ``awsglue`` unless the real one works; True when the stand-in is in use.

    ``force=True`` registers it regardless, ``force=False`` never does; ``None`` (the default)
    reads ``DDBMIGRATE_GLUELOCAL`` (``1``/``0``) and otherwise decides by :func:`awsglue_status`.
    """
    if force is None:
        setting = os.environ.get("DDBMIGRATE_GLUELOCAL", "").strip().lower()
        if setting in ("1", "true", "yes", "force"):
            force = True
        elif setting in ("0", "false", "no", "off"):
            force = False
        elif setting not in ("", "auto"):
            raise ConfigError(f"DDBMIGRATE_GLUELOCAL={setting!r}: expected 1 (use the local runtime), 0 (never) or auto")
    if force is False:
        return bool(getattr(sys.modules.get("awsglue"), _MARKER, False))
    status = AwsGlueStatus.ABSENT if force else awsglue_status()
    if status is AwsGlueStatus.SHIM:
        return True
    if not status.use_shim:
        log.info("using the real awsglue (%s)", status.value)
        return False
    _register()
    log.info("using the local Glue runtime ddbmigrate.gluelocal (%s)", "forced" if force else status.value)
    return True
