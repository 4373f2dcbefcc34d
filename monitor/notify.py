"""Alerts: render a story for a watch (pure) and deliver it through Apprise (the edge).

Deliveries come from the outbox table: one row per (watch, story, target). A row
is marked sent only after Apprise reports success; a failure is retried later.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

import apprise

from monitor.store import Store, retry_delay
from monitor.types import Alert, StoryArticle

log = logging.getLogger(__name__)

_MARK = re.compile(r"\[\[(.+?)\]\]")


@dataclass(frozen=True)
class Message:
    title: str
    text: str
    html: str


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "date unknown"


def _is_new(a: StoryArticle, since: datetime | None) -> bool:
    return since is not None and a.fetched is not None and a.fetched > since


def render(alert: Alert) -> Message:
    """Title names the watch and the story; body lists every article and the matched words.

    A follow-up (alert.update_since set) says which outlets joined since the last message.
    """
    if alert.update_since is not None:
        return _render_update(alert)
    outlets = sorted({a.source for a in alert.articles})
    languages = sorted({a.language for a in alert.articles})
    title = f"[{alert.watch}] {alert.story_title}"
    lines = [
        f"Watch '{alert.watch}' matched a story covered by {len(outlets)} outlet(s) ({', '.join(outlets)}) in {', '.join(languages)}.",
        "",
    ]
    for a in alert.articles:
        lines += [f"* {a.source} ({a.language}, {_when(a.published)}): {a.title}", f"  {a.url}"]
    if alert.clauses:
        lines += ["", "Why: " + "; ".join(alert.clauses)]
    if alert.hits:
        lines += ["", "Matched:"]
        for h in alert.hits:
            quoted = _MARK.sub(lambda m: f"«{m.group(1)}»", h.snippet)
            lines.append(f"- {h.term} ({h.field}): {quoted}")
    text = "\n".join(lines)

    def esc(s: str) -> str:
        return html.escape(s, quote=True)

    parts = [
        f"<p>Watch <b>{esc(alert.watch)}</b> matched a story covered by {len(outlets)} outlet(s) "
        f"({esc(', '.join(outlets))}) in {esc(', '.join(languages))}.</p>",
        "<ul>",
    ]
    for a in alert.articles:
        parts.append(f"<li><b>{esc(a.source)}</b> ({esc(a.language)}, {esc(_when(a.published))}): {_link(a)}<br>{esc(a.url)}</li>")
    parts.append("</ul>")
    if alert.clauses:
        parts.append(f"<p>Why: <code>{esc('; '.join(alert.clauses))}</code></p>")
    if alert.hits:
        parts.append("<p>Matched:</p><ul>")
        for h in alert.hits:
            snippet = _MARK.sub(lambda m: f"<mark>{m.group(1)}</mark>", esc(h.snippet))
            parts.append(f"<li><b>{esc(h.term)}</b> ({esc(h.field)}): {snippet}</li>")
        parts.append("</ul>")
    body = f'<html><head><meta charset="utf-8"></head><body>{"".join(parts)}</body></html>'
    return Message(title=title, text=text, html=body)


def _render_update(alert: Alert) -> Message:
    new = [a for a in alert.articles if _is_new(a, alert.update_since)]
    outlets = sorted({a.source for a in alert.articles})
    languages = sorted({a.language for a in alert.articles})
    title = f"[{alert.watch}] Also covered: {alert.story_title}"
    lines = [f"{len(new)} more article(s) on this story since the last message:", ""]
    for a in new:
        lines += [f"* {a.source} ({a.language}): {a.title}", f"  {a.url}"]
    lines += ["", f"Now {len(alert.articles)} article(s) from {len(outlets)} outlet(s) ({', '.join(outlets)}) in {', '.join(languages)}."]
    esc = lambda s: html.escape(s, quote=True)  # noqa: E731
    items = "".join(
        f"<li><b>{esc(a.source)}</b> ({esc(a.language)}): {_link(a)}<br>{esc(a.url)}</li>" for a in new
    )
    body = (
        f'<html><head><meta charset="utf-8"></head><body><p>{len(new)} more article(s) on this story since the last message:</p>'
        f"<ul>{items}</ul><p>Now {len(alert.articles)} article(s) from {len(outlets)} outlet(s) "
        f"({esc(', '.join(outlets))}) in {esc(', '.join(languages))}.</p></body></html>"
    )
    return Message(title=title, text="\n".join(lines), html=body)


def _link(a: StoryArticle) -> str:
    """Only web links become clickable; anything else a feed put there is shown as text."""
    title = html.escape(a.title, quote=True)
    if a.url.lower().startswith(("http://", "https://")):
        return f'<a href="{html.escape(a.url, quote=True)}">{title}</a>'
    return title


def send_apprise(urls: list[str], message: Message) -> str | None:
    """Deliver to every URL of a target; None on success, else what went wrong."""
    errors = []
    for url in urls:
        plugin = apprise.Apprise.instantiate(url)
        if plugin is None:
            errors.append(f"not a URL Apprise understands: {url.split(':', 1)[0]}://...")
            continue
        # the service's own preferred format: e-mail and Telegram take HTML, webhooks and chats plain text
        # (a `?format=` on the URL overrides this inside Apprise)
        formats = plugin.notify_format if isinstance(plugin.notify_format, (list, tuple)) else (plugin.notify_format,)
        wants_html = formats[0] == apprise.NotifyFormat.HTML
        body, fmt = (message.html, apprise.NotifyFormat.HTML) if wants_html else (message.text, apprise.NotifyFormat.TEXT)
        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
            ok = plugin.notify(body=body, title=message.title, body_format=fmt)
        if not ok:
            detail = " ".join(captured.getvalue().split())[-300:] or "delivery failed"
            errors.append(f"{plugin.service_name}: {detail}")
    return "; ".join(errors) or None


Sender = Callable[[list[str], Message], "str | None"]


def flush(
    store: Store,
    targets: dict[str, list[str]],
    unconfigured: dict[str, str],
    now: datetime,
    send: Sender = send_apprise,
    ignore_backoff: bool = False,
) -> dict[str, int]:
    """Send every due delivery once (every pending one with ignore_backoff); returns counts."""
    counts = {"sent": 0, "failed": 0, "waiting": 0}
    for d in store.due_deliveries(now, ignore_backoff):
        if d.target in unconfigured or d.target not in targets:
            why = unconfigured.get(d.target, "target no longer in the config")
            log.warning("alert for watch '%s' waits: notify target '%s' is not usable (%s)", d.watch, d.target, why)
            counts["waiting"] += 1
            continue
        story = store.story(d.story_id)
        if story is None:
            continue
        hits, clauses = store.hits_for(d.watch, d.story_id)
        alert = Alert(d.id, d.watch, d.target, d.story_id, story.title, story.articles, tuple(hits), tuple(clauses), d.previous_sent)
        error = send(targets[d.target], render(alert))
        if error is None:
            store.mark_sent(d.id, now)
            counts["sent"] += 1
            log.info("alert sent: watch '%s', story %d, target '%s'", d.watch, d.story_id, d.target)
        else:
            retry = now + retry_delay(d.attempts)
            store.mark_failed(d.id, error, retry)
            counts["failed"] += 1
            log.error("alert to '%s' failed (watch '%s', story %d): %s; retrying at %s", d.target, d.watch, d.story_id, error, retry.isoformat())
    return counts
