from service.domain.throttle import FailureThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_refuses_after_limit_until_window_passes() -> None:
    clock = Clock()
    throttle = FailureThrottle(limit=3, window=60, clock=clock)
    for _ in range(3):
        assert throttle.retry_after("ip") == 0
        throttle.record_failure("ip")
    assert throttle.retry_after("ip") == 60
    clock.now += 59.5
    assert throttle.retry_after("ip") == 1
    clock.now += 1
    assert throttle.retry_after("ip") == 0
    assert throttle.retry_after("other") == 0


def test_success_resets() -> None:
    throttle = FailureThrottle(limit=2, window=60, clock=Clock())
    throttle.record_failure("ip")
    throttle.record_failure("ip")
    throttle.reset("ip")
    assert throttle.retry_after("ip") == 0
