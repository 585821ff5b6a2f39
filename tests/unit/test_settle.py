"""settle.decide: the single place that chooses retry tier or dead letter."""

import pytest

from shopbridge.errors import (
    InvalidEvent,
    MappingError,
    TargetLocked,
    TransientDatabaseError,
)
from shopbridge.settle import Decision, decide

TIERS = (5, 60, 600)


@pytest.mark.parametrize("exc", [InvalidEvent("x"), MappingError("y")])
def test_permanent_errors_go_straight_to_dead_letters(exc):
    assert decide(exc, attempts_before=0, tiers=TIERS).action == "dead"


def test_retryable_errors_climb_the_tiers_then_die():
    exc = TransientDatabaseError("deadlock")
    delays = [decide(exc, attempts_before=n, tiers=TIERS).delay_s for n in range(3)]
    assert delays == [5, 60, 600]
    final = decide(exc, attempts_before=3, tiers=TIERS)
    assert (final.action, final.attempts) == ("dead", 4)


def test_unexpected_exceptions_are_retried_like_transient_ones():
    assert decide(KeyError("bug"), attempts_before=0, tiers=TIERS).action == "retry"


def test_a_lock_conflict_does_not_use_up_attempts():
    exc = TargetLocked("busy", delay_s=2, counts_as_attempt=False)
    decision = decide(exc, attempts_before=3, tiers=TIERS)
    assert (decision.action, decision.attempts, decision.delay_s) == ("retry", 3, 600)


def test_a_non_counting_retry_with_more_attempts_than_tiers_waits_in_the_last_tier():
    """Tiers shortened in the configuration while letters with many attempts are underway."""
    locked = TargetLocked("busy", delay_s=2, counts_as_attempt=False)
    assert decide(locked, attempts_before=5, tiers=(5, 60)) == Decision("retry", 5, 60)
