"""Python's cyclic garbage collector, tuned for the length of one writing task.

A writing task allocates a few hundred container objects per item (the parsed export line, the
wire item, the request) and frees nearly all of them by reference counting: items are trees, not
cycles. Meanwhile the worker holds a couple of hundred thousand long-lived objects — botocore's
service models, pyspark, our own modules. With the default thresholds (700, 10, 10) the
collector ran a *full* collection every ~700 items, each one walking all of those long-lived
objects: measured in one writing task against DynamoDB Local, 180–190 µs of every item's CPU
(the collecting thread's CPU time; 280–330 µs of wall time), about a third of the task's, with
23–28 full collections per 20,000 items.

:func:`collector_for_streaming` therefore, for the length of the task only:

* **freezes** what is alive when the task starts (``gc.freeze``), after one collection so that
  no garbage is frozen with it: the collector no longer walks the long-lived objects at all;
* raises the youngest generation's threshold, so that a collection runs every few thousand
  allocations rather than every 700 (each one still finds every cycle made meanwhile).

Cycles are still collected during the task; what is frozen becomes collectable again at its end.
Everything is restored afterwards, because Spark reuses its Python workers for later tasks and
a caller may run a task in its own process (the tests, a library user). Blocks may nest or
overlap on several threads: the first to enter tunes, the last to leave restores.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["STREAMING_THRESHOLD", "collector_for_streaming"]

STREAMING_THRESHOLD = 10_000
"""Allocations between two young-generation collections during a task (Python's default: 700).
Measured with frozen long-lived objects: garbage collection fell from 180–190 to about 35 µs of
CPU per item; the young generation holds at most this many objects more than before (a few MB)."""


_lock = threading.Lock()
_open = 0  # blocks open now, in any thread
_threshold: tuple[int, ...] = ()  # to restore when the last block closes
_we_froze = False


@contextmanager
def collector_for_streaming() -> Iterator[None]:
    """Freeze the objects alive now and collect less often until the block ends; then restore.

    When something else already froze objects (a fork server, say), they are left as they are:
    ``gc.unfreeze`` cannot tell its objects from ours, so this block then only raises the threshold.
    """
    global _open, _threshold, _we_froze
    with _lock:
        if _open == 0:
            _threshold = gc.get_threshold()
            _we_froze = gc.get_freeze_count() == 0
            if _we_froze:
                gc.collect()
                gc.freeze()
            gc.set_threshold(max(_threshold[0], STREAMING_THRESHOLD), *_threshold[1:])
        _open += 1
    try:
        yield
    finally:
        with _lock:
            _open -= 1
            if _open == 0:
                gc.set_threshold(*_threshold)
                if _we_froze:
                    gc.unfreeze()
