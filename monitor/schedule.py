"""When to fetch a source next, and when a source needs an operator's attention (pure policy)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

MAX_BACKOFF = timedelta(hours=6)  # a failing source is retried at least this often, never abandoned


@dataclass(frozen=True)
class Cadence:
    interval: float  # configured seconds between fetches
    max_interval: float  # adaptive polling never waits longer than this


def next_due(now: datetime, cadence: Cadence, failures: int, publish_gap: float, retry_after: float | None = None) -> datetime:
    """Failures back off exponentially (capped); quiet sources are polled less often, within bounds."""
    if failures > 0:
        wait = min(cadence.interval * 2 ** (failures - 1), max(cadence.max_interval, MAX_BACKOFF.total_seconds()))
    elif publish_gap > 0:
        wait = min(max(cadence.interval, publish_gap / 4), cadence.max_interval)
    else:
        wait = cadence.interval
    if retry_after:
        wait = max(wait, retry_after)
    # a hair early, so the next scheduler tick at `interval` is not skipped by rounding
    return now + timedelta(seconds=wait) - timedelta(seconds=min(1.0, wait * 0.02))


def updated_gap(previous_gap: float, last_new: datetime | None, now: datetime) -> float:
    """Moving average of the time between fetches that brought new articles."""
    if last_new is None:
        return previous_gap
    gap = (now - last_new).total_seconds()
    return gap if previous_gap <= 0 else 0.7 * previous_gap + 0.3 * gap


def incident(
    now: datetime,
    failing_since: datetime | None,
    last_new: datetime | None,
    publish_gap: float,
    failing_after: timedelta,
    silence_factor: float,
) -> str | None:
    """'failing' for a source failing this long, 'silent' for one quiet far longer than usual, else None."""
    if failing_since is not None and now - failing_since >= failing_after:
        return "failing"
    if last_new is not None and publish_gap > 0 and (now - last_new).total_seconds() > silence_factor * publish_gap:
        return "silent"
    return None


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """A Retry-After header (seconds, or an HTTP date) as seconds from now; None if absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, (parsedate_to_datetime(value) - now).total_seconds())
        except (TypeError, ValueError):
            return None
