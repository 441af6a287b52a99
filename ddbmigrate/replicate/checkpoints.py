"""Where replication stands, per stream and shard, and who may apply a shard right now.

A :class:`Checkpoint` is the last sequence number applied (flushed to the target) and whether the
shard is finished; it only moves forward — a save that would move it back is refused. A
:class:`Lease` (owner id + expiry) lets one poller apply a shard at a time; the Lambda handler
takes the stream-wide lease (shard :data:`STREAM_WIDE`), which excludes every shard lease of
another owner and is excluded by them. A lease is renewed while its owner runs, always on the
condition that the owner is still the holder; once expired anyone may take it over (a crashed
poller only delays the next one by the lease's duration). Each side writes its own lease first and
then reads the other side's with a consistent read, so two racing owners cannot both win.

Two stores keep the same records: :class:`TableCheckpoints` (a DynamoDB table in the target
account, created on first use, PAY_PER_REQUEST, every write conditional) and
:class:`FileCheckpoints` (a JSON file replaced atomically, under an advisory lock for processes
sharing it). :func:`open_checkpoints` reads ``table:NAME`` or ``file:PATH``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import tempfile
import threading
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import ClientError

from ddbmigrate.accounts import Account
from ddbmigrate.dynamodb import dynamodb_client, error_code
from ddbmigrate.errors import ConfigError, ReplicationError

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "STREAM_WIDE",
    "Checkpoint",
    "CheckpointStore",
    "FileCheckpoints",
    "Lease",
    "TableCheckpoints",
    "new_owner_id",
    "open_checkpoints",
    "release_leases",
    "renew",
]

STREAM_WIDE = "*"
"""The shard id of the stream-wide lease (the Lambda's: it applies every shard of the stream)."""
DEFAULT_LEASE_SECONDS = 60.0
"""How long a poller's shard lease lasts unless renewed (``replicate run --lease-seconds``): a killed run
blocks a restart this long, unless ``replicate release`` gives its leases up."""
_SEQUENCE_DIGITS = 48
"""Sequence numbers are decimal strings (AWS documents 21–40 digits); zero-padded to this width
they order as text, which DynamoDB's ``<=`` on strings compares (a number type keeps only 38 digits)."""


@dataclass(frozen=True)
class Checkpoint:
    """One shard's progress: the last sequence number applied (None: nothing yet) and whether it is done."""

    stream_arn: str
    shard_id: str
    sequence_number: str | None = None
    finished: bool = False


@dataclass(frozen=True)
class Lease:
    """``owner`` may apply ``shard_id`` of ``stream_arn`` (every shard for :data:`STREAM_WIDE`) until ``expires``."""

    stream_arn: str
    shard_id: str
    owner: str
    expires: float
    """POSIX seconds."""

    def remaining(self, now: float) -> float:
        return self.expires - now


class CheckpointStore(Protocol):
    """What the poller (and the Lambda) need of a store; both implementations below keep it."""

    def checkpoints(self, stream_arn: str) -> dict[str, Checkpoint]:
        """Every shard's checkpoint of ``stream_arn`` (shards never saved are absent)."""
        ...

    def save(self, checkpoint: Checkpoint, *, owner: str | None = None) -> None:
        """Record ``checkpoint`` unless it moves back; with ``owner``, only while that owner holds the lease."""
        ...

    def acquire(self, stream_arn: str, shard_id: str, *, owner: str, now: float,
                duration: float = DEFAULT_LEASE_SECONDS) -> Lease:
        """Take (or renew) the lease; :class:`ReplicationError` naming the holder when someone else has it."""
        ...

    def release(self, lease: Lease) -> None:
        """Give the lease up (a no-op when it has already passed to another owner)."""
        ...

    def leases(self, stream_arn: str) -> list[Lease]:
        """Every lease recorded for ``stream_arn``, expired ones included (what ``replicate release`` reads)."""
        ...


def new_owner_id(kind: str = "poller") -> str:
    """A lease owner id that says who holds it: ``poller@host:pid/1a2b3c4d``."""
    return f"{kind}@{socket.gethostname()}:{os.getpid()}/{uuid.uuid4().hex[:8]}"


def open_checkpoints(spec: str, target: Account, *, option: str = "--checkpoint") -> CheckpointStore:
    """``table:NAME`` (a table in the target account) or ``file:PATH``."""
    kind, _, value = spec.partition(":")
    if kind == "table" and value:
        return TableCheckpoints(target, value)
    if kind == "file" and value:
        return FileCheckpoints(Path(value))
    raise ConfigError(f"{option}: expected table:NAME or file:PATH, got {spec!r}")


def _padded(sequence_number: str) -> str:
    if not sequence_number.isdigit() or len(sequence_number) > _SEQUENCE_DIGITS:
        raise ReplicationError(f"sequence number {sequence_number!r} is not a stream sequence number (decimal digits)")
    return sequence_number.zfill(_SEQUENCE_DIGITS)


def _when(expires: float) -> str:
    return datetime.fromtimestamp(expires, tz=timezone.utc).isoformat(timespec="seconds")


def _leased(stream_arn: str, shard_id: str, owner: str, expires: float, now: float) -> str:
    what = "the whole stream" if shard_id == STREAM_WIDE else f"shard {shard_id}"
    return (f"stream {stream_arn}: {what} is leased by {owner} until {_when(expires)} "
            f"({max(0.0, expires - now):.0f}s from now)")


def _held(stream_arn: str, shard_id: str, owner: str, expires: float, now: float) -> ReplicationError:
    return ReplicationError(
        f"{_leased(stream_arn, shard_id, owner, expires, now)}; another poller or the Lambda is replicating it — "
        "stop that one, or wait for its lease to expire (a dead run's: 'ddbmigrate replicate release')")


def _backwards(checkpoint: Checkpoint, stored: str | None) -> ReplicationError:
    return ReplicationError(
        f"stream {checkpoint.stream_arn} shard {checkpoint.shard_id}: checkpoint {checkpoint.sequence_number} "
        f"would move back from {stored}; another process is replicating this shard — stop it and start again")


# --------------------------------------------------------------------------- DynamoDB table


class TableCheckpoints:
    """Checkpoints and leases in a DynamoDB table of the target account (``stream``/``shard`` keys).

    One item per stream and shard holds the checkpoint (``sequence``, ``position`` — the padded
    sequence that conditions compare — and ``finished``) and the lease (``lease_owner``,
    ``lease_expires``). Created on first use with on-demand billing. Every write is conditional:
    a checkpoint only moves forward and, given an owner, only while that owner holds the lease; a
    lease is taken only when free, expired or already ours.
    """

    def __init__(self, account: Account, table: str, *, client: Any = None) -> None:
        self.account = account
        self.table = table
        self._client = client if client is not None else dynamodb_client(account)
        self._ready = False
        self._lock = threading.Lock()

    def _ensure_table(self) -> None:
        with self._lock:
            if self._ready:
                return
            try:
                self._client.describe_table(TableName=self.table)
            except ClientError as exc:
                if error_code(exc) != "ResourceNotFoundException":
                    raise
                try:
                    self._client.create_table(
                        TableName=self.table, BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": "stream", "AttributeType": "S"},
                                              {"AttributeName": "shard", "AttributeType": "S"}],
                        KeySchema=[{"AttributeName": "stream", "KeyType": "HASH"},
                                   {"AttributeName": "shard", "KeyType": "RANGE"}])
                except ClientError as again:
                    if error_code(again) != "ResourceInUseException":  # another poller created it meanwhile
                        raise
                self._client.get_waiter("table_exists").wait(TableName=self.table,
                                                             WaiterConfig={"Delay": 1, "MaxAttempts": 120})
            self._ready = True

    def checkpoints(self, stream_arn: str) -> dict[str, Checkpoint]:
        self._ensure_table()
        found: dict[str, Checkpoint] = {}
        kwargs: dict[str, Any] = {"TableName": self.table, "ConsistentRead": True,
                                  "KeyConditionExpression": "#s = :s", "ExpressionAttributeNames": {"#s": "stream"},
                                  "ExpressionAttributeValues": {":s": {"S": stream_arn}}}
        while True:
            page = self._client.query(**kwargs)
            for item in page.get("Items", ()):
                shard = item["shard"]["S"]
                if shard != STREAM_WIDE and ("sequence" in item or "finished" in item):
                    found[shard] = Checkpoint(stream_arn, shard, item.get("sequence", {}).get("S"),
                                              bool(item.get("finished", {}).get("BOOL", False)))
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def save(self, checkpoint: Checkpoint, *, owner: str | None = None) -> None:
        self._ensure_table()
        names = {"#f": "finished"}
        values: dict[str, Any] = {":f": {"BOOL": checkpoint.finished}, ":true": {"BOOL": True}}
        sets = ["#f = :f"]
        # a finished shard stays finished
        conditions = ["(attribute_not_exists(#f) OR #f <> :true OR :f = :true)"]
        if checkpoint.sequence_number is not None:
            names |= {"#q": "sequence", "#p": "position"}
            values |= {":q": {"S": checkpoint.sequence_number}, ":p": {"S": _padded(checkpoint.sequence_number)}}
            sets += ["#q = :q", "#p = :p"]
            conditions.append("(attribute_not_exists(#p) OR #p <= :p)")
        if owner is not None:
            names["#o"] = "lease_owner"
            values[":o"] = {"S": owner}
            conditions.append("#o = :o")
        try:
            self._client.update_item(
                TableName=self.table, Key=self._key(checkpoint.stream_arn, checkpoint.shard_id),
                UpdateExpression="SET " + ", ".join(sets), ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeNames=names, ExpressionAttributeValues=values)
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            item = self._get(checkpoint.stream_arn, checkpoint.shard_id)
            holder = item.get("lease_owner", {}).get("S")
            if owner is not None and holder != owner:
                raise ReplicationError(
                    f"stream {checkpoint.stream_arn} shard {checkpoint.shard_id}: the lease of {owner} passed to "
                    f"{holder}; this poller stops (what it applied is replayed by the new holder)") from None
            raise _backwards(checkpoint, item.get("sequence", {}).get("S")) from None

    def acquire(self, stream_arn: str, shard_id: str, *, owner: str, now: float,
                duration: float = DEFAULT_LEASE_SECONDS) -> Lease:
        self._ensure_table()
        lease = Lease(stream_arn, shard_id, owner, now + duration)
        try:
            self._client.update_item(
                TableName=self.table, Key=self._key(stream_arn, shard_id),
                UpdateExpression="SET #o = :o, #e = :e",
                ConditionExpression="attribute_not_exists(#o) OR #o = :o OR #e < :now",
                ExpressionAttributeNames={"#o": "lease_owner", "#e": "lease_expires"},
                ExpressionAttributeValues={":o": {"S": owner}, ":e": {"N": repr(lease.expires)}, ":now": {"N": repr(now)}})
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            item = self._get(stream_arn, shard_id)
            raise _held(stream_arn, shard_id, item.get("lease_owner", {}).get("S", "?"),
                        float(item.get("lease_expires", {}).get("N", now)), now) from None
        rival = self._rival(stream_arn, shard_id, owner, now)
        if rival is not None:
            self.release(lease)
            raise _held(stream_arn, *rival, now)
        return lease

    def release(self, lease: Lease) -> None:
        self._ensure_table()
        with contextlib.suppress(ClientError):  # conditional: someone else holds it now, nothing to give up
            self._client.update_item(
                TableName=self.table, Key=self._key(lease.stream_arn, lease.shard_id),
                UpdateExpression="REMOVE #o, #e", ConditionExpression="#o = :o",
                ExpressionAttributeNames={"#o": "lease_owner", "#e": "lease_expires"},
                ExpressionAttributeValues={":o": {"S": lease.owner}})

    def leases(self, stream_arn: str) -> list[Lease]:
        self._ensure_table()
        return [Lease(stream_arn, item["shard"]["S"], item["lease_owner"]["S"], float(item["lease_expires"]["N"]))
                for item in self._items(stream_arn) if "lease_owner" in item and "lease_expires" in item]

    def _items(self, stream_arn: str) -> list[dict[str, Any]]:
        """Every item of ``stream_arn`` (one per shard, and the stream-wide lease), read consistently."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self.table, "ConsistentRead": True,
                                  "KeyConditionExpression": "#s = :s", "ExpressionAttributeNames": {"#s": "stream"},
                                  "ExpressionAttributeValues": {":s": {"S": stream_arn}}}
        while True:
            page = self._client.query(**kwargs)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _rival(self, stream_arn: str, shard_id: str, owner: str, now: float) -> tuple[str, str, float] | None:
        """A live lease of another owner that excludes ours: the stream-wide one, or (for it) any shard's."""
        items = self._items(stream_arn) if shard_id == STREAM_WIDE else [self._get(stream_arn, STREAM_WIDE)]
        for item in items:
            holder = item.get("lease_owner", {}).get("S")
            expires = float(item.get("lease_expires", {}).get("N", 0))
            if item.get("shard", {}).get("S") != shard_id and holder and holder != owner and expires >= now:
                return item["shard"]["S"], holder, expires
        return None

    def _get(self, stream_arn: str, shard_id: str) -> dict[str, Any]:
        return self._client.get_item(TableName=self.table, Key=self._key(stream_arn, shard_id),
                                     ConsistentRead=True).get("Item") or {}

    @staticmethod
    def _key(stream_arn: str, shard_id: str) -> dict[str, Any]:
        return {"stream": {"S": stream_arn}, "shard": {"S": shard_id}}


# --------------------------------------------------------------------------- local file


class FileCheckpoints:
    """Checkpoints and leases in a local JSON file: ``{"streams": {arn: {shard: {...}}}}``.

    Every change is read-modify-write under an exclusive ``flock`` on ``<file>.lock`` (processes)
    and a thread lock (the poller's shard threads), written to a temporary file beside it and
    moved into place with ``os.replace``: a crash leaves the old file or the new one, never half.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def _state(self, *, write: bool) -> Iterator[dict[str, Any]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.path.with_name(self.path.name + ".lock"), "a") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)
            try:
                state = json.loads(self.path.read_text("utf-8")) if self.path.exists() else {}
                if not isinstance(state, dict):
                    raise ConfigError(f"--checkpoint: {self.path} is not a checkpoint file (expected a JSON object)")
                state.setdefault("streams", {})
                yield state
                if write:
                    fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
                    with os.fdopen(fd, "w", encoding="utf-8") as out:
                        json.dump(state, out, indent=1, sort_keys=True)
                        out.flush()
                        os.fsync(out.fileno())
                    os.replace(tmp, self.path)
            finally:
                fcntl.flock(guard, fcntl.LOCK_UN)

    def checkpoints(self, stream_arn: str) -> dict[str, Checkpoint]:
        with self._state(write=False) as state:
            shards: Mapping[str, Any] = state["streams"].get(stream_arn, {})
            return {shard: Checkpoint(stream_arn, shard, entry.get("sequence"), bool(entry.get("finished", False)))
                    for shard, entry in shards.items()
                    if shard != STREAM_WIDE and ("sequence" in entry or "finished" in entry)}

    def save(self, checkpoint: Checkpoint, *, owner: str | None = None) -> None:
        with self._state(write=True) as state:
            entry = state["streams"].setdefault(checkpoint.stream_arn, {}).setdefault(checkpoint.shard_id, {})
            if owner is not None and entry.get("lease_owner") != owner:
                raise ReplicationError(
                    f"stream {checkpoint.stream_arn} shard {checkpoint.shard_id}: the lease of {owner} passed to "
                    f"{entry.get('lease_owner')}; this poller stops (what it applied is replayed by the new holder)")
            stored = entry.get("sequence")
            if checkpoint.sequence_number is not None:
                if stored is not None and _padded(stored) > _padded(checkpoint.sequence_number):
                    raise _backwards(checkpoint, stored)
                entry["sequence"] = checkpoint.sequence_number
            if entry.get("finished") and not checkpoint.finished:
                raise _backwards(checkpoint, f"{stored} (finished)")
            entry["finished"] = checkpoint.finished

    def acquire(self, stream_arn: str, shard_id: str, *, owner: str, now: float,
                duration: float = DEFAULT_LEASE_SECONDS) -> Lease:
        with self._state(write=True) as state:
            shards = state["streams"].setdefault(stream_arn, {})
            for other, entry in shards.items():
                holder, expires = entry.get("lease_owner"), float(entry.get("lease_expires", 0))
                excludes = other == shard_id or STREAM_WIDE in (other, shard_id)
                if excludes and holder and holder != owner and expires >= now:
                    raise _held(stream_arn, other, holder, expires, now)
            lease = Lease(stream_arn, shard_id, owner, now + duration)
            shards.setdefault(shard_id, {}).update(lease_owner=owner, lease_expires=lease.expires)
            return lease

    def release(self, lease: Lease) -> None:
        with self._state(write=True) as state:
            entry = state["streams"].get(lease.stream_arn, {}).get(lease.shard_id, {})
            if entry.get("lease_owner") == lease.owner:
                entry.pop("lease_owner", None)
                entry.pop("lease_expires", None)

    def leases(self, stream_arn: str) -> list[Lease]:
        with self._state(write=False) as state:
            shards: Mapping[str, Any] = state["streams"].get(stream_arn, {})
            return [Lease(stream_arn, shard, entry["lease_owner"], float(entry.get("lease_expires", 0)))
                    for shard, entry in shards.items() if entry.get("lease_owner")]


def release_leases(store: CheckpointStore, stream_arn: str, *, now: float, force: bool = False) -> list[Lease]:
    """Give up every lease of ``stream_arn`` — a killed run's, so a restart need not wait for them to
    expire. A lease still fresh may belong to a live run (two runs would then apply the same shard):
    refused, naming it, unless ``force``. Returns the leases given up."""
    held = store.leases(stream_arn)
    fresh = [lease for lease in held if lease.expires >= now]
    if fresh and not force:
        lease = min(fresh, key=lambda lease: lease.expires)
        raise ReplicationError(
            f"{_leased(stream_arn, lease.shard_id, lease.owner, lease.expires, now)}, {len(fresh)} lease(s) still "
            "fresh: if that run is dead, give them up with --force; if it is alive, stop it first")
    for lease in held:
        store.release(lease)
    return held


def renew(store: CheckpointStore, lease: Lease, *, now: float, duration: float = DEFAULT_LEASE_SECONDS) -> Lease:
    """Extend ``lease``; conditional on its owner still holding it (or nobody having taken it since
    it expired), else :class:`ReplicationError` naming the new holder — the caller must stop."""
    return store.acquire(lease.stream_arn, lease.shard_id, owner=lease.owner, now=now, duration=duration)
