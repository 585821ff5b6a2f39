"""settle.decide: the single place that chooses retry tier or dead letter."""

import pytest

from shopbridge.errors import (
    DependencyMissing,
    InvalidEvent,
    MappingError,
    RetryableError,
    TargetLocked,
    TransientDatabaseError,
)
from shopbridge.settle import MIN_NAMED_DELAY_S, Decision, _expiration_ms, decide

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
    assert (decision.action, decision.attempts) == ("retry", 3)


def test_a_non_counting_retry_with_more_attempts_than_tiers_waits_in_the_last_tier():
    """Tiers shortened in the configuration while letters with many attempts are underway."""
    unavailable = RetryableError("database away", counts_as_attempt=False)
    assert decide(unavailable, attempts_before=5, tiers=(5, 60)) == Decision("retry", 5, 60, 60)


def test_a_named_delay_is_retried_after_that_delay_in_the_smallest_tier_that_long():
    """TargetLocked(delay_s=2) after three attempts waits 2 s (in the 5 s tier), not 600 s."""
    locked = TargetLocked("busy", delay_s=2, counts_as_attempt=False)
    assert decide(locked, attempts_before=3, tiers=TIERS) == Decision("retry", 3, 2.0, 5)
    assert decide(RetryableError("later", delay_s=30), attempts_before=0, tiers=TIERS) == \
        Decision("retry", 1, 30.0, 60)
    assert decide(RetryableError("exact", delay_s=60), attempts_before=2, tiers=TIERS) == \
        Decision("retry", 3, 60.0, 60)


def test_a_named_delay_longer_than_every_tier_waits_the_longest_tier():
    exc = RetryableError("much later", delay_s=3600)
    assert decide(exc, attempts_before=0, tiers=TIERS) == Decision("retry", 1, 600, 600)


def test_a_named_delay_below_the_minimum_waits_the_minimum():
    """A delay of 0 would loop a message through the broker without a pause."""
    exc = TargetLocked("busy", delay_s=0, counts_as_attempt=False)
    assert decide(exc, attempts_before=0, tiers=TIERS) == \
        Decision("retry", 0, MIN_NAMED_DELAY_S, 5)


def test_a_named_delay_that_counts_still_ends_in_dead_letters_after_the_last_tier():
    exc = DependencyMissing("category 7 not applied yet", delay_s=2)
    assert decide(exc, attempts_before=2, tiers=TIERS) == Decision("retry", 3, 2.0, 5)
    assert decide(exc, attempts_before=3, tiers=TIERS) == Decision("dead", 4)


def test_only_a_delay_shorter_than_its_tier_gets_a_per_message_expiration():
    assert _expiration_ms(Decision("retry", 1, 1.5, 5)) == 1500
    assert _expiration_ms(Decision("retry", 1, 5, 5)) is None
    assert _expiration_ms(Decision("dead", 4)) is None
