"""Python's cyclic garbage collector, tuned for the length of one writing task.

A writing task frees nearly all of its per-item objects by reference counting (items are trees,
not cycles), yet with the default thresholds the collector kept walking the worker's long-lived
objects and cost about a third of the task's CPU. :func:`collector_for_streaming` freezes what is
alive at the task's start and collects the youngest generation less often; cycles are still
collected, and everything is restored when the last nested block leaves, because Spark reuses its
Python workers. Details: docs/sink.md, "Garbage collection during a task"; measurements:
bench/README.md, "Measurements behind design choices".
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
