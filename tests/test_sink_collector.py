"""The garbage collector's tuning for a writing task (ddbmigrate.sink.collector): what it changes
inside the block, that cycles are still collected, and that everything is put back."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

from ddbmigrate.dynamodb import describe_table
from ddbmigrate.sample import sample_items
from ddbmigrate.sink import SinkOptions
from ddbmigrate.sink.collector import STREAMING_THRESHOLD, collector_for_streaming
from ddbmigrate.sink.spark import TaskPlan


class Node:
    """An object in a reference cycle with itself: only the cyclic collector can free it."""

    def __init__(self) -> None:
        self.me = self


def test_inside_the_block_live_objects_are_frozen_and_collections_are_rarer() -> None:
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    with collector_for_streaming():
        assert gc.get_threshold()[0] == max(before[0], STREAMING_THRESHOLD)
        assert gc.get_threshold()[1:] == before[1:]
        assert gc.get_freeze_count() > 1000  # the test process's modules, at least
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_cycles_made_inside_the_block_are_still_collected_during_it() -> None:
    with collector_for_streaming():
        first = Node()
        alive = weakref.ref(first)
        del first
        for _ in range(3 * STREAMING_THRESHOLD):  # enough allocations for young collections to run
            Node()
        assert alive() is None


def test_what_was_frozen_is_collectable_again_after_the_block() -> None:
    with collector_for_streaming():
        pass  # froze, among others, the cycle below, made before the block
    cycle = Node()
    alive = weakref.ref(cycle)
    with collector_for_streaming():
        del cycle
        gc.collect()  # a full collection inside the block does not see frozen objects
        assert alive() is not None
    gc.collect()
    assert alive() is None


def test_an_error_inside_the_block_still_restores_everything() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), collector_for_streaming():
        raise RuntimeError("boom")
    assert (gc.get_threshold(), gc.get_freeze_count()) == (before, 0)


def test_overlapping_blocks_on_threads_restore_once_the_last_one_closes() -> None:
    before = gc.get_threshold()
    entered, release = threading.Event(), threading.Event()

    def other() -> None:
        with collector_for_streaming():
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=other)
    with collector_for_streaming():
        thread.start()
        assert entered.wait(10)
    assert gc.get_threshold()[0] == max(before[0], STREAMING_THRESHOLD)  # the other block is still open
    assert gc.get_freeze_count() > 0
    release.set()
    thread.join(10)
    assert (gc.get_threshold(), gc.get_freeze_count()) == (before, 0)


def test_objects_someone_else_froze_are_left_frozen() -> None:
    cycle = Node()
    alive = weakref.ref(cycle)
    gc.freeze()  # someone else's freeze, with the cycle in it
    try:
        del cycle
        with collector_for_streaming():
            assert gc.get_threshold()[0] >= STREAMING_THRESHOLD
        gc.collect()
        assert alive() is not None  # still frozen: the block did not unfreeze what it had not frozen
    finally:
        gc.unfreeze()
    gc.collect()
    assert alive() is None


@pytest.mark.integration
def test_a_writing_task_reads_its_rows_under_the_tuned_collector(target: Any, target_ddb: Any, unique_name: Any) -> None:
    from ddbmigrate.sample import create_sample_table

    table = unique_name("collector")
    create_sample_table(target_ddb, table)
    seen: list[tuple[tuple[int, ...], int]] = []

    def rows() -> Iterator[tuple[str, Any]]:
        for number, item in enumerate(sample_items(30)):
            seen.append((gc.get_threshold(), gc.get_freeze_count()))
            yield f"row {number}", item

    before = gc.get_threshold()
    options = SinkOptions(table, target=target, requests_in_flight=2)
    stats = TaskPlan(options, describe_table(target_ddb, table), None, "run").write(rows())
    assert (stats.received, stats.written) == (30, 30)
    assert all(threshold[0] >= STREAMING_THRESHOLD and frozen > 0 for threshold, frozen in seen)
    assert (gc.get_threshold(), gc.get_freeze_count()) == (before, 0)
