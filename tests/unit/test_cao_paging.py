"""The producer's page loop leaves the garbage collector as it found it."""

from __future__ import annotations

import gc

import pytest

from producers.cao.producer import _collector_paused


def test_the_collector_is_paused_for_a_page_and_on_again_after_it_even_when_it_fails():
    assert gc.isenabled()
    with _collector_paused():
        assert not gc.isenabled()
        with _collector_paused():           # a stock scan inside a page's read (follow mode)
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), _collector_paused():
        raise RuntimeError("page failed")
    assert gc.isenabled()


def test_a_collector_someone_else_turned_off_stays_off():
    gc.disable()
    try:
        with _collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
