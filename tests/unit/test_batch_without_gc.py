"""The consume loop pauses the cyclic collector while it processes a batch
(``consumers.runner._batch_without_gc``) and always gives it back."""

from __future__ import annotations

import gc

import pytest

from consumers.runner import _batch_without_gc


def test_the_collector_is_paused_for_the_batch_and_back_after_it_even_when_it_fails():
    assert gc.isenabled()
    with _batch_without_gc():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), _batch_without_gc():
        raise RuntimeError("the batch failed")
    assert gc.isenabled()


def test_a_collector_switched_off_by_the_process_stays_off():
    gc.disable()
    try:
        with _batch_without_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
