from service.persistence.outbox import OldestPending
from service.usecases.back_pressure import PressureConfig, relay_behind

CONFIG = PressureConfig(max_lag=0.25, stall_after=1.0)


def test_creates_wait_while_a_publishing_relay_is_behind() -> None:
    assert relay_behind(OldestPending(seq=7, age=0.3), since_progress=0.1, config=CONFIG)


def test_creates_go_on_when_the_relay_keeps_up() -> None:
    assert not relay_behind(None, since_progress=5.0, config=CONFIG)
    assert not relay_behind(OldestPending(seq=7, age=0.2), since_progress=0.1, config=CONFIG)


def test_creates_go_on_when_the_relay_makes_no_progress() -> None:
    # Broker down or no relay at all: the outbox is there to hold the events.
    assert not relay_behind(OldestPending(seq=7, age=60.0), since_progress=1.5, config=CONFIG)
