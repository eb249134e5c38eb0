"""Loaded only by the instants run (.ci/instants.sh puts this directory on PYTHONPATH).

libfaketime 0.9.10 with FAKETIME_DONT_FAKE_MONOTONIC=1 rejects clock_nanosleep(CLOCK_MONOTONIC,
TIMER_ABSTIME, ...) with EINVAL, and Python 3.11's time.sleep() is built on it, so every sleep
in pytest and in the Celery workers it starts would raise OSError. select() with a relative
timeout is not faked: sleep through it instead.
"""

import select
import time


def _sleep(seconds: float) -> None:
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    select.select([], [], [], seconds)


time.sleep = _sleep
