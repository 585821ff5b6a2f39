"""The outage book and ride_out: one warning when an outage starts, one info line when it
ends, silent tries in between."""

from __future__ import annotations

import logging
import threading

import pytest

from shopbridge.errors import BrokerUnavailable, ConfigError, TargetUnavailable
from shopbridge.outage import Outages, ride_out

CAO = "CAO database of tenant 'acme' (mysql+pymysql://sb:***@db/cao)"


def _outages() -> Outages:
    return Outages(broker="amqp://sb:**@mq//", database=CAO)


def _failing(errors: list[Exception], result: str = "done"):
    calls = []

    def fn() -> str:
        calls.append(1)
        if errors:
            raise errors.pop(0)
        return result

    return fn, calls


def test_an_outage_is_said_once_when_it_starts_and_once_when_it_ends(caplog):
    caplog.set_level(logging.INFO)
    down = TargetUnavailable(f"{CAO}: MySQL error 2003: Can't connect")
    fn, calls = _failing([down, down, down])

    assert ride_out(fn, outages=_outages(), stop_event=threading.Event(), first_s=0.01,
                    max_s=0.02) == "done"

    assert len(calls) == 4
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert len(lines) == 2
    assert lines[0] == ("WARNING", f"{CAO} is unavailable (MySQL error 2003: Can't connect); "
                                   "waiting for it, retrying with backoff (at most every 15 s)")
    assert lines[1][0] == "INFO" and lines[1][1].startswith(f"{CAO} is back after ")


def test_the_broker_and_the_database_are_separate_outages(caplog):
    caplog.set_level(logging.INFO)
    outages = _outages()
    outages.begin(BrokerUnavailable("broker amqp://sb:**@mq//: OSError: reset"))
    outages.begin(BrokerUnavailable("broker amqp://sb:**@mq//: OSError: refused"))
    outages.begin(TargetUnavailable(f"{CAO}: MySQL error 2013: Lost connection"))
    assert outages.away == {"broker", "database"} and outages.count == 2
    outages.end("database")
    assert outages.away == {"broker"}
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0].startswith("broker amqp://sb:**@mq// is unavailable (OSError: reset)")
    assert messages[1].startswith(f"{CAO} is unavailable (MySQL error 2013")
    assert messages[2].startswith(f"{CAO} is back after ")
    assert len(messages) == 3


def test_ride_out_lets_other_errors_through_at_once():
    fn, calls = _failing([ConfigError("table ARTIKEL not found")])
    with pytest.raises(ConfigError):
        ride_out(fn, outages=_outages(), stop_event=threading.Event(), first_s=0.01)
    assert len(calls) == 1


def test_ride_out_raises_the_outage_when_stopped_while_waiting():
    stop = threading.Event()
    down = BrokerUnavailable("broker amqp://sb:**@mq//: OSError: refused")

    def fn() -> None:
        stop.set()                    # a SIGTERM arrives during the outage
        raise down

    with pytest.raises(BrokerUnavailable):
        ride_out(fn, outages=_outages(), stop_event=stop, first_s=5)
