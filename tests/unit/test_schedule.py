"""Polling policy: back-off, adaptive intervals, Retry-After, and when a source needs an operator."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from monitor.schedule import Cadence, incident, next_due, updated_gap

NOW = datetime(2025, 11, 26, 12, tzinfo=timezone.utc)
C = Cadence(interval=600, max_interval=2400)


@pytest.mark.parametrize(
    "failures, gap, retry_after, minutes",
    [
        (0, 0, None, 10),  # nothing known: the configured interval
        (0, 1200, None, 10),  # publishes every 20 min: poll every 10
        (0, 7200, None, 30),  # publishes every 2 h: poll every 30 min
        (0, 86400, None, 40),  # rarely: capped at max_interval
        (1, 0, None, 10),  # first failure: try again at the interval
        (3, 0, None, 40),  # then 2x, 4x ...
        (10, 0, None, 360),  # ... never more than 6 h apart, never abandoned
        (0, 0, 1800, 30),  # the outlet said Retry-After: 30 min
    ],
)
def test_next_due(failures, gap, retry_after, minutes):
    due = next_due(NOW, C, failures, gap, retry_after)
    assert timedelta(minutes=minutes) - timedelta(seconds=15) <= due - NOW <= timedelta(minutes=minutes)


def test_publish_gap_is_a_moving_average():
    assert updated_gap(0, None, NOW) == 0
    assert updated_gap(0, NOW - timedelta(hours=1), NOW) == 3600
    assert updated_gap(3600, NOW - timedelta(hours=3), NOW) == pytest.approx(0.7 * 3600 + 0.3 * 10800)


@pytest.mark.parametrize(
    "failing_for, silent_for, gap, expected",
    [
        (None, timedelta(hours=1), 3600, None),
        (timedelta(hours=5), None, 0, None),
        (timedelta(hours=6), None, 0, "failing"),
        (None, timedelta(hours=3, minutes=1), 3600, "silent"),
        (None, timedelta(hours=2), 3600, None),
        (None, timedelta(days=30), 0, None),  # no usual gap known yet: not silent
    ],
)
def test_incident(failing_for, silent_for, gap, expected):
    failing_since = NOW - failing_for if failing_for else None
    last_new = NOW - silent_for if silent_for else None
    assert incident(NOW, failing_since, last_new, gap, timedelta(hours=6), 3.0) == expected


@pytest.mark.parametrize(
    "header, seconds",
    [("120", 120.0), ("0", 0.0), ("Wed, 26 Nov 2025 12:05:00 GMT", 300.0), ("Wed, 26 Nov 2025 11:00:00 GMT", 0.0), ("soon", None), ("", None), (None, None)],
)
def test_retry_after_header(header, seconds):
    from monitor.schedule import retry_after_seconds

    assert retry_after_seconds(header, NOW) == seconds
