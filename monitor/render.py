"""Render alerts and digests as messages for e-mail, chat and webhooks (pure: no I/O).

    renderer = Renderer(overrides=config_templates, max_links=5)
    message = renderer.alert(alert, "chat")                      # one watch, one story
    message = renderer.digest(alerts, "email", "Daily digest")   # many alerts, grouped by story

Kinds and formats
-----------------
``email``   -> ``Message.format == "html"``: a full, autoescaped HTML document.
``chat``    -> ``"markdown"``: a short message, feed text Markdown-escaped.
``webhook`` -> ``"text"``: the body is a JSON document (``ensure_ascii=False``).

Default titles: ``[{watch}] {story_title}`` for an alert, ``[{watch}] Also covered:
{story_title}`` for a follow-up (``alert.update_since`` set), the heading for a digest.
Line breaks in a title (default or user-made) become spaces.

User templates (``overrides``)
------------------------------
``{kind: {"title": source, "body": source}}``, either key optional, Jinja2 syntax. They
are compiled when the Renderer is built: a syntax error, an unknown kind or an unknown
key raises :class:`TemplateError`. They run in a sandbox (``ImmutableSandboxedEnvironment``,
``StrictUndefined``, ``trim_blocks`` and ``lstrip_blocks`` on); an undefined variable or any
other failure while rendering raises :class:`TemplateError` naming the kind, the field and,
when known, the template line.

The e-mail *body* environment autoescapes (feed text stays inert even in user templates;
``snippet_html`` is already markup). Titles are plain text for every kind (they become
a mail subject or a chat title), so title templates never autoescape. Chat and webhook
bodies do not autoescape: use the ``md`` / ``json`` filters.

The same body/title template serves single alerts and digests; branch on ``is_digest``.
The default templates are in :data:`DEFAULT_BODIES` (a good starting point to copy).

Context of an alert (``is_digest`` false):
    alert          the Alert itself
    watch          the watch name
    story_title    the story's headline
    story_id       the story's id
    articles       list of StoryArticle (url, source, language, title, published, fetched)
    outlets        sorted unique sources of the articles
    languages      sorted unique languages of the articles
    hits           list of dicts: term, field, snippet (raw, matched words in [[ ]]),
                   snippet_html (Markup, matched words in <mark>, the rest escaped),
                   snippet_md (Markdown-escaped, matched words in **)
    terms          the hits' terms, unique, in order
    why            list of the matched clauses (alert.clauses)
    is_update      true for a follow-up ("also covered by")
    new_articles   the articles fetched after alert.update_since (empty unless is_update)

Context of a digest (``is_digest`` true):
    heading        the digest's heading (also its default title)
    alerts         the alerts, in the order given
    stories        list of dicts, one per story in order of first appearance:
                   story_id, headline, watches (sorted, unique), articles (deduplicated by
                   URL), hits (as above, deduplicated), terms, why, outlets, languages,
                   alerts (that story's alerts)

Both also have:
    is_digest      bool
    kind           "email", "chat" or "webhook"
    max_links      the Renderer's max_links
    default_title  the title the message gets unless a title template is given
    payload        the dict the default webhook body serialises

Filters and tests available to templates:
    md             Markdown-escape text (backslash before  \\ ` * _ [ ] ( ) ~ < > # + - = | { } . !)
    md_url         make a URL safe as a Markdown link destination
    md_article     an article as "[source (lang)](url)", or "source (lang): url" (as text)
                   when the URL is not http(s)
    clip(n)        collapse whitespace and cut to n characters (with "…")
    when           "%Y-%m-%d %H:%M UTC", or "date unknown" for None
    json           json.dumps(value, ensure_ascii=False); datetimes become ISO strings
    is web_url     true for http:// and https:// URLs (only those may become links)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable
from urllib.parse import quote

from jinja2 import StrictUndefined, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup, escape

from monitor.types import Alert, Hit, StoryArticle

__all__ = ["KINDS", "FORMATS", "DEFAULT_BODIES", "Message", "Renderer", "TemplateError", "md_escape"]

KINDS = ("email", "chat", "webhook")
FORMATS = {"email": "html", "chat": "markdown", "webhook": "text"}
FIELDS = ("title", "body")

_MARK = re.compile(r"\[\[(.+?)\]\]", re.S)
_MD_SPECIAL = re.compile(r"([\\`*_\[\]()~<>#+\-=|{}.!])")
_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    format: str  # "html" (email), "markdown" (chat), "text" (webhook: the body is JSON)


class TemplateError(ValueError):
    """A user template is unusable: names the kind, the field and, when known, the line."""


# -- helpers and filters ---------------------------------------------------------------


def _utc(value: datetime) -> datetime:
    """Aware UTC; a naive datetime is taken to be UTC already."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _when(value: datetime | None) -> str:
    return _utc(value).strftime("%Y-%m-%d %H:%M UTC") if value else "date unknown"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _is_web(url: Any) -> bool:
    return isinstance(url, str) and url.lower().startswith(("http://", "https://"))


def md_escape(text: Any) -> str:
    """Backslash-escape every Markdown-significant ASCII character (safe in CommonMark and Telegram)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def _md_url(url: Any) -> str:
    """A URL as a link destination: nothing in it can close the link or start a new one."""
    return quote(str(url), safe="/:?#@!$&*+,;=%~-._'")


def _clip(text: Any, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + "…"


def _md_article(a: StoryArticle) -> str:
    label = f"{md_escape(_clip(a.source, 60))} ({md_escape(_clip(a.language, 12))})"
    if _is_web(a.url):
        return f"[{label}]({_md_url(a.url)})"
    return f"{label}: {md_escape(_clip(a.url, 200))}"


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_json_default)


def _snippet_html(snippet: str) -> Markup:
    out, pos = [], 0
    for m in _MARK.finditer(snippet):
        out.append(escape(snippet[pos : m.start()]))
        out.append(Markup("<mark>%s</mark>") % m.group(1))
        pos = m.end()
    out.append(escape(snippet[pos:]))
    return Markup("").join(out)


def _snippet_md(snippet: str) -> str:
    out, pos = [], 0
    for m in _MARK.finditer(snippet):
        out.append(md_escape(snippet[pos : m.start()]))
        out.append(f"**{md_escape(m.group(1))}**")
        pos = m.end()
    out.append(md_escape(snippet[pos:]))
    return "".join(out)


def _hit(h: Hit) -> dict[str, Any]:
    return {
        "term": h.term,
        "field": h.field,
        "snippet": h.snippet,
        "snippet_html": _snippet_html(h.snippet),
        "snippet_md": _snippet_md(h.snippet),
    }


def _unique(values: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


def _one_line(title: str) -> str:
    return _LINE_BREAKS.sub(" ", title).strip()


def _is_new(a: StoryArticle, since: datetime | None) -> bool:
    return since is not None and a.fetched is not None and _utc(a.fetched) > _utc(since)


def _alert_payload(alert: Alert) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": "update" if alert.update_since is not None else "alert",
        "watch": alert.watch,
        "story_id": alert.story_id,
        "headline": alert.story_title,
        "articles": [
            {"url": a.url, "source": a.source, "language": a.language, "title": a.title, "published": _iso(a.published)}
            for a in alert.articles
        ],
        "matched": [{"term": h.term, "field": h.field, "snippet": h.snippet} for h in alert.hits],
        "why": list(alert.clauses),
    }
    if alert.update_since is not None:
        payload["new_articles"] = [a.url for a in alert.articles if _is_new(a, alert.update_since)]
    return payload


def _make_env(autoescape: bool) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        autoescape=autoescape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(md=md_escape, md_url=_md_url, md_article=_md_article, clip=_clip, when=_when, json=_json)
    env.tests["web_url"] = _is_web
    return env


# -- default bodies ----------------------------------------------------------------------

_EMAIL_BODY = """\
{% macro article(a) %}
<li><b>{{ a.source }}</b> ({{ a.language }}, {{ a.published | when }}): \
{% if a.url is web_url %}<a href="{{ a.url }}">{{ a.title }}</a>{% else %}{{ a.title }}{% endif %}\
<br>{{ a.url }}</li>
{% endmacro %}
{% macro matched(hits, why) %}
{% if why %}
<p>Why: <code>{{ why | join("; ") }}</code></p>
{% endif %}
{% if hits %}
<p>Matched:</p>
<ul>
{% for h in hits %}
<li><b>{{ h.term }}</b> ({{ h.field }}): {{ h.snippet_html }}</li>
{% endfor %}
</ul>
{% endif %}
{% endmacro %}
<html><head><meta charset="utf-8"><title>{{ default_title }}</title></head><body>
{% if is_digest %}
<h2>{{ heading }}</h2>
<p>{{ stories | length }} {{ "story" if stories | length == 1 else "stories" }}, {{ alerts | length }} alert(s).</p>
{% for s in stories %}
<h3>{{ s.headline }}</h3>
<p>Watches: {% for w in s.watches %}<b>{{ w }}</b>{{ ", " if not loop.last }}{% endfor %}. \
Covered by {{ s.outlets | length }} outlet(s) ({{ s.outlets | join(", ") }}) in {{ s.languages | join(", ") }}.</p>
<ul>
{% for a in s.articles %}
{{ article(a) }}
{%- endfor %}
</ul>
{{ matched(s.hits, s.why) }}
{%- endfor %}
{% elif is_update %}
<p>Watch <b>{{ watch }}</b>: {{ new_articles | length }} more article(s) on this story since the last message:</p>
<ul>
{% for a in new_articles %}
{{ article(a) }}
{%- endfor %}
</ul>
<p>Now {{ articles | length }} article(s) from {{ outlets | length }} outlet(s) ({{ outlets | join(", ") }}) \
in {{ languages | join(", ") }}.</p>
{% else %}
<p>Watch <b>{{ watch }}</b> matched a story covered by {{ outlets | length }} outlet(s) \
({{ outlets | join(", ") }}) in {{ languages | join(", ") }}.</p>
<ul>
{% for a in articles %}
{{ article(a) }}
{%- endfor %}
</ul>
{{ matched(hits, why) }}
{%- endif %}
</body></html>
"""

_CHAT_BODY = """\
{% macro links(items) %}
{% if items %}

{% for a in items[:max_links] %}
- {{ a | md_article }}
{% endfor %}
{% if items | length > max_links %}

…and {{ items | length - max_links }} more
{% endif %}
{% endif %}
{% endmacro %}
{% if is_digest %}
**{{ heading | clip(200) | md }}**
{% for s in stories %}

**{{ s.headline | clip(200) | md }}**

Watches: {{ s.watches | join(", ") | clip(200) | md }}{% if s.terms %} · Matched: {{ s.terms | join(", ") | clip(300) | md }}{% endif +%}
{{ links(s.articles) }}
{%- endfor %}
{% elif is_update %}
**\\[{{ watch | clip(60) | md }}\\] Also covered: {{ story_title | clip(200) | md }}**

{{ new_articles | length }} new article(s) since the last message; now {{ articles | length }} from \
{{ outlets | length }} outlet(s).
{{ links(new_articles) }}
{%- else %}
**\\[{{ watch | clip(60) | md }}\\] {{ story_title | clip(200) | md }}**
{% if terms %}

Matched: {{ terms | join(", ") | clip(300) | md }}
{% endif %}
{% if why %}

Why: {{ why | join("; ") | clip(300) | md }}
{% endif %}
{{ links(articles) }}
{%- endif %}
"""

_WEBHOOK_BODY = "{{ payload | json }}"

DEFAULT_BODIES = {"email": _EMAIL_BODY, "chat": _CHAT_BODY, "webhook": _WEBHOOK_BODY}


# -- the renderer ------------------------------------------------------------------------


class _UserTemplate:
    """A compiled user template that reports failures as TemplateError."""

    def __init__(self, env: ImmutableSandboxedEnvironment, kind: str, field: str, source: Any) -> None:
        self.kind, self.field = kind, field
        self.filename = f"<{kind} {field} template>"
        if not isinstance(source, str):
            raise TemplateError(f"{kind} {field} template: expected text, got {type(source).__name__}")
        try:
            code = env.compile(source, name=f"{kind}.{field}", filename=self.filename)
        except TemplateSyntaxError as e:
            raise TemplateError(f"{kind} {field} template, line {e.lineno}: {e.message}") from e
        self.template = env.template_class.from_code(env, code, env.make_globals(None))

    def render(self, context: dict[str, Any]) -> str:
        try:
            return self.template.render(context)
        except Exception as e:  # a user template may fail in any way; say which one and where
            line = None
            tb = e.__traceback__
            while tb is not None:
                if tb.tb_frame.f_code.co_filename == self.filename:
                    line = tb.tb_lineno
                tb = tb.tb_next
            where = f", line {line}" if line else ""
            raise TemplateError(f"{self.kind} {self.field} template{where}: {e}") from e


class Renderer:
    """Turns Alerts into Messages; user overrides are compiled once, here."""

    def __init__(self, overrides: dict[str, dict[str, str]] | None = None, max_links: int = 5) -> None:
        if isinstance(max_links, bool) or not isinstance(max_links, int) or max_links < 0:
            raise ValueError(f"max_links must be a whole number >= 0, got {max_links!r}")
        self.max_links = max_links
        html_env, plain_env = _make_env(True), _make_env(False)
        self._body_env = {"email": html_env, "chat": plain_env, "webhook": plain_env}
        self._title_env = plain_env  # titles are plain text (a subject line) for every kind
        self._defaults = {kind: self._body_env[kind].from_string(DEFAULT_BODIES[kind]) for kind in KINDS}
        self._overrides: dict[tuple[str, str], _UserTemplate] = {}
        if overrides is None:
            overrides = {}
        if not isinstance(overrides, dict):
            raise TemplateError(f"templates: expected a mapping of kind -> {{title, body}}, got {type(overrides).__name__}")
        for kind, fields in overrides.items():
            if kind not in KINDS:
                raise TemplateError(f"unknown template kind {kind!r} (expected one of {', '.join(KINDS)})")
            if fields is None:
                continue
            if not isinstance(fields, dict):
                raise TemplateError(f"{kind} templates: expected a mapping with 'title' and/or 'body', got {type(fields).__name__}")
            for field, source in fields.items():
                if field not in FIELDS:
                    raise TemplateError(f"unknown template field {field!r} for {kind} (expected 'title' or 'body')")
                env = self._title_env if field == "title" else self._body_env[kind]
                self._overrides[(kind, field)] = _UserTemplate(env, kind, field, source)

    # -- public

    def alert(self, alert: Alert, kind: str) -> Message:
        """One watch on one story; a follow-up when alert.update_since is set."""
        return self._render(kind, self._alert_context(alert, kind))

    def digest(self, alerts: list[Alert], kind: str, heading: str) -> Message:
        """Many alerts in one message, grouped by story in order of first appearance."""
        if not alerts:
            raise ValueError("digest of no alerts")
        return self._render(kind, self._digest_context(list(alerts), kind, heading))

    # -- internals

    def _render(self, kind: str, context: dict[str, Any]) -> Message:
        if kind not in KINDS:
            raise ValueError(f"unknown message kind {kind!r} (expected one of {', '.join(KINDS)})")
        title_t = self._overrides.get((kind, "title"))
        title = title_t.render(context) if title_t else context["default_title"]
        body_t = self._overrides.get((kind, "body"))
        body = body_t.render(context) if body_t else self._defaults[kind].render(context).strip() + "\n"
        if kind == "webhook" and body_t is None:
            body = body.rstrip("\n")
        return Message(title=_one_line(title), body=body, format=FORMATS[kind])

    def _common(self, kind: str, default_title: str, payload: dict[str, Any], is_digest: bool) -> dict[str, Any]:
        return {
            "kind": kind,
            "max_links": self.max_links,
            "default_title": default_title,
            "payload": payload,
            "is_digest": is_digest,
        }

    def _alert_context(self, alert: Alert, kind: str) -> dict[str, Any]:
        articles = list(alert.articles)
        is_update = alert.update_since is not None
        hits = [_hit(h) for h in alert.hits]
        if is_update:
            default_title = f"[{alert.watch}] Also covered: {alert.story_title}"
        else:
            default_title = f"[{alert.watch}] {alert.story_title}"
        return {
            **self._common(kind, default_title, _alert_payload(alert), False),
            "alert": alert,
            "watch": alert.watch,
            "story_title": alert.story_title,
            "story_id": alert.story_id,
            "articles": articles,
            "outlets": sorted({a.source for a in articles}),
            "languages": sorted({a.language for a in articles}),
            "hits": hits,
            "terms": _unique(h.term for h in alert.hits),
            "why": list(alert.clauses),
            "is_update": is_update,
            "new_articles": [a for a in articles if _is_new(a, alert.update_since)],
        }

    def _digest_context(self, alerts: list[Alert], kind: str, heading: str) -> dict[str, Any]:
        groups: dict[int, list[Alert]] = {}
        for a in alerts:
            groups.setdefault(a.story_id, []).append(a)
        stories = []
        for story_id, group in groups.items():
            by_url: dict[str, StoryArticle] = {}
            for al in group:
                for a in al.articles:
                    by_url.setdefault(a.url, a)
            articles = list(by_url.values())
            hits = _unique(h for al in group for h in al.hits)  # Hit is frozen, hence hashable
            stories.append(
                {
                    "story_id": story_id,
                    "headline": group[0].story_title,
                    "watches": sorted({al.watch for al in group}),
                    "articles": articles,
                    "outlets": sorted({a.source for a in articles}),
                    "languages": sorted({a.language for a in articles}),
                    "hits": [_hit(h) for h in hits],
                    "terms": _unique(h.term for h in hits),
                    "why": _unique(c for al in group for c in al.clauses),
                    "alerts": group,
                }
            )
        payload = {
            "type": "digest",
            "heading": heading,
            "alerts": [_alert_payload(al) for s in stories for al in s["alerts"]],
        }
        return {
            **self._common(kind, heading, payload, True),
            "heading": heading,
            "alerts": alerts,
            "stories": stories,
        }
