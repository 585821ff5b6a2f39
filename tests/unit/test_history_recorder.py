"""consumers.history.Recorder: a batch's history is written on a thread of its own, in the
order the batches came, all of it by ``close``; a writer that hangs costs ``close`` its
wait, never the consumer's exit."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest

from consumers.history import Recorder


def test_batches_and_jobs_run_in_order_and_close_runs_what_waits():
    written: list[Any] = []

    def slow(entries: Sequence[Any]) -> None:
        time.sleep(0.01)
        written.append(list(entries))

    recorder = Recorder(slow, backlog=2)
    for n in range(10):
        recorder.put([n])       # waits whenever two jobs wait already
        if n == 4:
            recorder.later(lambda: written.append("pruned"))
    recorder.close()
    assert written == [[0], [1], [2], [3], [4], "pruned", [5], [6], [7], [8], [9]]


def test_a_failing_write_loses_its_batch_alone(caplog):
    written: list[Any] = []

    def flaky(entries: Sequence[Any]) -> None:
        if entries == ["bad"]:
            raise RuntimeError("bug")
        written.append(list(entries))

    recorder = Recorder(flaky)
    with caplog.at_level(logging.ERROR, logger="consumers.history"):
        for entries in (["a"], ["bad"], ["b"]):
            recorder.put(entries)
        recorder.close()
    assert written == [["a"], ["b"]]
    assert "history: a write failed" in caplog.text


def test_close_gives_up_on_a_writer_that_hangs(caplog):
    release = threading.Event()
    recorder = Recorder(lambda _: release.wait(10), backlog=1)
    recorder.put(["stuck"])
    with caplog.at_level(logging.WARNING, logger="consumers.history"):
        started = time.monotonic()
        recorder.close(wait_s=0.2)
    assert time.monotonic() - started < 2
    assert "not recorded" in caplog.text
    release.set()


@pytest.mark.parametrize("batches", [0, 1])
def test_close_without_or_after_work_returns_at_once(batches: int):
    recorder = Recorder(lambda _: None)
    for _ in range(batches):
        recorder.put(["x"])
    started = time.monotonic()
    recorder.close()
    recorder.close()
    assert time.monotonic() - started < 1
