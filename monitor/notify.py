"""Delivering alerts from the outbox through Apprise: once, durably, calmly.

The outbox holds one row per (watch, story, target[, follow-up]); rows are written
with the match, before anything is sent. `flush` plans, per target, which messages
are due now (instant alerts, digests whose schedule fired, what quiet hours held
back, a summary of what a rate limit folded) and sends them. Each URL of a target
is recorded as done the moment it succeeds, so a retry or a restart never sends
there again; only the message in flight when a process dies can go out twice.
Failures back off exponentially with jitter (or as long as Retry-After asks) and
give up after the target's give_up_after, leaving the row `failed` for
`monitor alerts` and the health endpoint.
"""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from typing import Callable
from zoneinfo import ZoneInfo

import apprise

from monitor.config import Target
from monitor.render import Message, Renderer
from monitor.schedule import retry_after_seconds
from monitor.store import PendingDelivery, Store, retry_delay
from monitor.types import Alert

log = logging.getLogger(__name__)

EMAIL_SCHEMES = {"mailto", "mailtos", "ses", "sendgrid", "mailgun", "sparkpost", "smtp2go", "resend", "brevo", "office365"}
WEBHOOK_SCHEMES = {"json", "jsons", "xml", "xmls", "form", "forms"}
DEFAULT_RATE = {"email": 10, "chat": 20, "webhook": 60}  # messages per minute; Telegram allows ~20 per group


def kind_of(url: str) -> str:
    """Which template fits a service: email, webhook or chat."""
    scheme = url.split(":", 1)[0].lower()
    if scheme in EMAIL_SCHEMES:
        return "email"
    if scheme in WEBHOOK_SCHEMES:
        return "webhook"
    return "chat"


@dataclass(frozen=True)
class Outcome:
    error: str | None = None
    retry_after: float | None = None  # seconds, when the service said so


# ---- the Apprise edge ------------------------------------------------------------------------

_capture = threading.local()


def _install_response_hook() -> None:
    """Let us see HTTP 429 Retry-After headers of the requests Apprise makes (it does not expose them)."""
    import requests

    if getattr(requests.Session.send, "_monitor_hook", False):
        return
    original = requests.Session.send

    def send(self, request, **kwargs):  # noqa: ANN001, ANN202
        response = original(self, request, **kwargs)
        seen = getattr(_capture, "responses", None)
        if seen is not None:
            seen.append((response.status_code, response.headers.get("Retry-After")))
        return response

    send._monitor_hook = True  # type: ignore[attr-defined]
    requests.Session.send = send  # type: ignore[method-assign]


def send_apprise(url: str, message: Message) -> Outcome:
    """Send one message to one Apprise URL."""
    _install_response_hook()
    plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        return Outcome(f"not a URL Apprise understands: {url.split(':', 1)[0]}://...")
    fmt = {"html": apprise.NotifyFormat.HTML, "markdown": apprise.NotifyFormat.MARKDOWN}.get(message.format, apprise.NotifyFormat.TEXT)
    _capture.responses = []
    try:
        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
            ok = plugin.notify(body=message.body, title=message.title, body_format=fmt)
    finally:
        responses, _capture.responses = _capture.responses, None
    if ok:
        return Outcome()
    detail = " ".join(captured.getvalue().split())[-300:] or "delivery failed"
    now = datetime.now(timezone.utc)
    wait = next((retry_after_seconds(h, now) for status, h in reversed(responses) if status == 429 and h), None)
    if wait is None and any(status == 429 for status, _ in responses):
        wait = 60.0  # rate-limited without saying for how long
    return Outcome(f"{plugin.service_name}: {detail}", wait)


Sender = Callable[[str, Message], Outcome]


# ---- schedules (pure) ------------------------------------------------------------------------


def _window(quiet: str) -> tuple[time, time]:
    start, end = quiet.split("-")
    return time.fromisoformat(start.zfill(5)), time.fromisoformat(end.zfill(5))


def in_quiet_hours(target: Target, when: datetime) -> bool:
    if not target.quiet:
        return False
    start, end = _window(target.quiet)
    local = when.astimezone(ZoneInfo(target.timezone)).time()
    return start <= local < end if start < end else local >= start or local < end


def digest_due(schedule: Target | object, since: datetime, now: datetime) -> bool:
    """Whether a digest schedule (cron `digest` or `every`) fired after `since`."""
    every = getattr(schedule, "every", None)
    if every:
        return now >= since + timedelta(seconds=every)
    from apscheduler.triggers.cron import CronTrigger

    tz = ZoneInfo(getattr(schedule, "timezone", "Europe/Bucharest"))
    trigger = CronTrigger.from_crontab(getattr(schedule, "digest"), timezone=tz)
    fire = trigger.get_next_fire_time(None, since.astimezone(tz) + timedelta(seconds=1))
    return fire is not None and fire <= now


# ---- planning and sending ------------------------------------------------------------------------


@dataclass
class Planned:
    kind: str  # alert | digest | quiet | rate
    rows: list[PendingDelivery]
    heading: str = ""
    digest_key: str = ""


@dataclass
class Counts:
    sent: int = 0
    failed: int = 0
    waiting: int = 0
    gave_up: int = 0
    held: int = 0
    messages: int = 0

    def __getitem__(self, key: str) -> int:  # the daemon's log line reads counts["sent"] etc.
        return getattr(self, key)


@dataclass
class Deliverer:
    """Everything `flush` needs from the config; built by the composition root."""

    store: Store
    targets: dict[str, list[str]]  # name -> expanded URLs
    options: dict[str, Target]
    unconfigured: dict[str, str]
    schedules: dict[str, object] = field(default_factory=dict)  # digest key -> its schedule (watch or target)
    renderer: Renderer = field(default_factory=Renderer)
    send: Sender = send_apprise
    rng: random.Random = field(default_factory=random.Random)

    def flush(self, now: datetime, ignore_backoff: bool = False) -> Counts:
        """Send every message due now; returns what happened."""
        counts = Counts()
        by_target: dict[str, list[PendingDelivery]] = {}
        for row in self.store.pending_deliveries():
            by_target.setdefault(row.target, []).append(row)
        for target, rows in by_target.items():
            if target in self.unconfigured or target not in self.targets:
                why = self.unconfigured.get(target, "target no longer in the config")
                log.warning("%d alert(s) for '%s' wait: the target is not usable (%s)", len(rows), target, why)
                counts.waiting += len(rows)
                continue
            for planned in self.plan(target, rows, now, ignore_backoff, counts):
                self._deliver(target, planned, now, counts)
        return counts

    def plan(self, target: str, rows: list[PendingDelivery], now: datetime, ignore_backoff: bool, counts: Counts) -> list[Planned]:
        options = self.options.get(target) or Target(urls=self.targets[target])
        if in_quiet_hours(options, now):
            counts.held += len(rows)
            return []

        def ready(r: PendingDelivery) -> bool:
            return r.next_attempt is None or r.next_attempt <= now or (ignore_backoff and r.attempts > 0)

        plan: list[Planned] = []
        digests: dict[str, list[PendingDelivery]] = {}
        instant: list[PendingDelivery] = []
        held_quiet: list[PendingDelivery] = []
        for r in rows:
            if r.mode.startswith("digest:"):
                digests.setdefault(r.mode, []).append(r)
            elif options.quiet and r.attempts == 0 and r.created is not None and in_quiet_hours(options, r.created):
                held_quiet.append(r)
            elif ready(r):
                instant.append(r)
        for key, drows in digests.items():
            schedule = self.schedules.get(key)
            since = self.store.last_digest(target, key) or min(r.created or now for r in drows)
            if schedule is not None and digest_due(schedule, since, now) and all(ready(r) for r in drows):
                plan.append(Planned("digest", drows, f"Digest: {_count(drows)}", key))
            else:
                counts.held += len(drows)
        if held_quiet:
            plan.append(Planned("quiet", held_quiet, f"Held during quiet hours ({options.quiet}): {_count(held_quiet)}"))
        plan += [Planned("alert", [r]) for r in instant]
        rate = options.rate or min(DEFAULT_RATE[kind_of(u)] for u in self.targets[target])
        budget = rate - self.store.messages_since(target, now - timedelta(minutes=1))
        if budget <= 0:
            counts.held += sum(len(p.rows) for p in plan)
            return []
        if len(plan) > budget:
            keep, fold = plan[: budget - 1], plan[budget - 1 :]
            folded = [r for p in fold for r in p.rows]
            log.info("rate limit for '%s' (%d/min): %d alert(s) folded into one message", target, rate, len(folded))
            plan = keep + [Planned("rate", folded, f"{_count(folded)} more (rate limit: {rate} per minute)")]
        return plan

    def _alert(self, row: PendingDelivery) -> Alert | None:
        story = self.store.story(row.story_id)
        if story is None:
            return None
        hits, clauses = self.store.hits_for(row.watch, row.story_id)
        return Alert(row.id, row.watch, row.target, row.story_id, story.title, story.articles, tuple(hits), tuple(clauses), row.previous_sent)

    def _deliver(self, target: str, planned: Planned, now: datetime, counts: Counts) -> None:
        claimed = set(self.store.claim([r.id for r in planned.rows], now))
        planned.rows = [r for r in planned.rows if r.id in claimed]
        if not planned.rows:
            return  # another sender (a second daemon on the same database) has them
        alerts = [a for a in (self._alert(r) for r in planned.rows) if a is not None]
        ids = [r.id for r in planned.rows]
        if not alerts:
            self.store.mark_sent(ids, target, planned.kind, now, planned.digest_key)
            return
        errors: list[str] = []
        wait: float | None = None
        for url in self.targets[target]:
            if all(url in r.done_urls for r in planned.rows):
                continue  # this URL already has it: a retry must not send it again
            kind = kind_of(url)
            if planned.kind == "alert":
                message = self.renderer.alert(alerts[0], kind)
            else:
                message = self.renderer.digest(alerts, kind, planned.heading)
            outcome = self.send(url, message)
            if outcome.error is None:
                self.store.url_done(ids, url)
            else:
                errors.append(outcome.error)
                if outcome.retry_after is not None:
                    wait = max(wait or 0.0, outcome.retry_after)
        if not errors:
            self.store.mark_sent(ids, target, planned.kind, now, planned.digest_key)
            counts.sent += len(ids)
            counts.messages += 1
            log.info("sent %s to '%s': %s", planned.kind, target, ", ".join(f"{a.watch}/story {a.story_id}" for a in alerts))
            return
        error = "; ".join(errors)
        attempts = max(r.attempts for r in planned.rows)
        delay = retry_delay(attempts, self.rng.uniform(-1, 1))
        if wait is not None:
            delay = max(delay, timedelta(seconds=wait))
        options = self.options.get(target)
        give_up_after = timedelta(seconds=options.give_up_after if options else 24 * 3600)
        oldest = min(r.retry_base or now for r in planned.rows)
        give_up = now + delay - oldest > give_up_after
        self.store.mark_failed(ids, error, now + delay, give_up)
        if give_up:
            counts.gave_up += len(ids)
            log.error("gave up on %d alert(s) to '%s' after %s: %s (see `monitor alerts --failed`)", len(ids), target, now - oldest, error)
        else:
            counts.failed += len(ids)
            log.error("sending %s to '%s' failed: %s; retrying at %s", planned.kind, target, error, (now + delay).isoformat(timespec="seconds"))

    def operator(self, target: str, title: str, text: str, now: datetime) -> bool:
        """A message about the monitor itself (a source failing or silent); True when every URL took it."""
        if target not in self.targets or target in self.unconfigured:
            return False
        ok = all(self.send(url, Message(title=title, body=text, format="text")).error is None for url in self.targets[target])
        if ok:
            self.store.log_message(target, "operator", now)
        return ok

    def test(self, target: str, now: datetime) -> list[tuple[str, Outcome]]:
        """`monitor notify-test`: one plain message to every URL of a target."""
        out = []
        for url in self.targets[target]:
            message = Message(
                title="newsmonitor test message",
                body=f"This is a test from newsmonitor to target '{target}' at {now:%Y-%m-%d %H:%M} UTC. Alerts will look different.",
                format="text",
            )
            out.append((url, self.send(url, message)))
        if all(o.error is None for _, o in out):
            self.store.log_message(target, "test", now)
        return out


def _count(rows: list[PendingDelivery]) -> str:
    stories = len({r.story_id for r in rows})
    return f"{len(rows)} alert(s) in {stories} story(ies)"
