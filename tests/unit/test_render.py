"""monitor.render: Alerts -> e-mail (HTML), chat (Markdown) and webhook (JSON) messages (pure)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from html.parser import HTMLParser

import markdown  # Apprise's own dependency: how Apprise turns Markdown into HTML
import pytest

from monitor.render import KINDS, Message, Renderer, TemplateError
from monitor.types import Alert, Hit, StoryArticle

EVIL = '<script>alert(1)</script> & "x"'
MD_EVIL = "[click](http://evil) *x* _y_ `z` <http://evil2> ![i](http://img)"


def t(hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 5, 1, hour, minute, tzinfo=timezone.utc)


DIGI = StoryArticle(
    url="https://www.digi24.ro/stiri/externe/summit-bișkek-123?a=1&b=2",
    source="digi24",
    language="ro",
    title="Summitul OTSC de la Bișkek, Kârgâzstan",
    published=t(9, 30),
    fetched=t(9, 40),
)
BBC = StoryArticle(
    url="https://www.bbc.co.uk/news/world-asia-1",
    source="bbc-world",
    language="en",
    title=EVIL,
    published=None,
    fetched=t(10),
)
G4 = StoryArticle(
    url="https://www.g4media.ro/otsc",
    source="g4media",
    language="ro",
    title="Liderii OTSC, reuniți în Kârgâzstan",
    published=t(11, 5),
    fetched=t(12),
)
HOSTILE_URL = StoryArticle("javascript:alert(1)", "rau", "ro", "CSTO azi", t(11), t(12, 30))
ARTICLES = (DIGI, BBC, G4)

HITS = (
    Hit(term="Bișkek", field="title", snippet="Summitul OTSC de la [[Bișkek]], Kârgâzstan"),
    Hit(term="Kârgâzstan", field="text", snippet="…liderii din [[Kârgâzstan]] <b>au</b> & semnat, iar [[KARGAZSTAN]]…"),
    Hit(term="Kârgâzstan", field="title", snippet="Liderii OTSC, reuniți în [[Kârgâzstan]]"),
)
CLAUSES = ('"Bișkek" AND OTSC', "Kârgâzstan")


def alert(**kw) -> Alert:
    base = dict(
        delivery_id=1,
        watch="kyrgyzstan",
        target="desk",
        story_id=42,
        story_title="Summitul OTSC de la Bișkek, Kârgâzstan",
        articles=ARTICLES,
        hits=HITS,
        clauses=CLAUSES,
    )
    return Alert(**{**base, **kw})


def update(**kw) -> Alert:
    """A follow-up: G4 (fetched 12:00) and the hostile URL (12:30) arrived after 11:00."""
    return alert(articles=ARTICLES + (HOSTILE_URL,), update_since=t(11), **kw)


class _Page(HTMLParser):
    """The text, tags, links and <mark>s of an HTML document, as a browser would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.tags: list[str] = []
        self.hrefs: list[str] = []
        self.marks: list[str] = []
        self.headings: list[str] = []
        self._in: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._in.append(tag)
        if tag == "mark":
            self.marks.append("")
        if tag == "h3":
            self.headings.append("")
        if tag == "a":
            self.hrefs.append(dict(attrs).get("href", ""))

    def handle_endtag(self, tag):
        if tag in self._in:
            del self._in[len(self._in) - 1 - self._in[::-1].index(tag) :]

    def handle_data(self, data):
        self.text.append(data)
        if "mark" in self._in:
            self.marks[-1] += data
        if "h3" in self._in:
            self.headings[-1] += data

    @property
    def shown(self) -> str:
        return "".join(self.text)


def page(html: str) -> _Page:
    p = _Page()
    p.feed(html)
    p.close()
    return p


def md_page(body: str) -> _Page:
    """A chat body rendered the way Apprise renders Markdown to HTML."""
    return page(markdown.markdown(body, extensions=["markdown.extensions.nl2br", "markdown.extensions.tables"]))


def md_links(body: str) -> list[str]:
    """Markdown links left after removing every backslash-escaped character."""
    return re.findall(r"\]\(([^)]*)\)", re.sub(r"\\.", "", body))


R = Renderer()
DIGI_LINK = "https://www.digi24.ro/stiri/externe/summit-bi%C8%99kek-123?a=1&b=2"  # as a Markdown link destination


def link(url: str) -> str:
    return DIGI_LINK if url == DIGI.url else url


# -- titles and formats -------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "make, expected",
    [
        (alert, "[kyrgyzstan] Summitul OTSC de la Bișkek, Kârgâzstan"),
        (update, "[kyrgyzstan] Also covered: Summitul OTSC de la Bișkek, Kârgâzstan"),
        (lambda: alert(watch="a<b>&c", story_title=EVIL), f"[a<b>&c] {EVIL}"),  # a title is plain text: never escaped
    ],
)
def test_default_titles(kind, make, expected):
    assert R.alert(make(), kind).title == expected


@pytest.mark.parametrize("kind", KINDS)
def test_digest_title_is_the_heading(kind):
    assert R.digest([alert()], kind, "Daily digest — 1 May").title == "Daily digest — 1 May"


@pytest.mark.parametrize("kind, fmt", [("email", "html"), ("chat", "markdown"), ("webhook", "text")])
def test_format_per_kind(kind, fmt):
    assert R.alert(alert(), kind).format == fmt
    assert R.digest([alert()], kind, "d").format == fmt
    assert isinstance(R.alert(alert(), kind), Message)


def test_line_breaks_in_a_title_become_spaces():
    assert R.alert(alert(story_title="Two\nlines\r\n here"), "chat").title == "[kyrgyzstan] Two lines here"


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="sms"):
        R.alert(alert(), "sms")


# -- email --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def email() -> str:
    return R.alert(alert(), "email").body


def test_email_is_a_full_utf8_document(email):
    assert email.startswith('<html><head><meta charset="utf-8">')
    assert email.rstrip().endswith("</body></html>")
    assert "Watch <b>kyrgyzstan</b> matched a story covered by 3 outlet(s) (bbc-world, digi24, g4media) in en, ro." in email


def test_email_lists_every_article_with_date_link_and_visible_url(email):
    doc = page(email)
    assert doc.hrefs == [a.url for a in ARTICLES]  # &amp; in the attribute decodes back to the real URL
    for a in ARTICLES:
        assert a.url in doc.shown  # the URL is text too: Apprise's plain-text part keeps it
        assert a.source in doc.shown and a.title in doc.shown
    assert "(ro, 2024-05-01 09:30 UTC)" in doc.shown
    assert "(en, date unknown)" in doc.shown


@pytest.mark.parametrize(
    "make",
    [
        lambda: alert(story_title=EVIL, watch=EVIL, clauses=(EVIL,), articles=(BBC,),
                      hits=(Hit(EVIL, EVIL, f"<i>{EVIL}</i> [[{EVIL}]]"),)),
        lambda: alert(articles=(StoryArticle(f"https://x.ro/?q={EVIL}", EVIL, EVIL, EVIL, None),)),
    ],
    ids=["everywhere", "in-url-source-language"],
)
def test_email_escapes_every_feed_supplied_text(make):
    for body in (R.alert(make(), "email").body, R.digest([make()], "email", EVIL).body):
        assert "<script" not in body and "<i>" not in body
        doc = page(body)
        assert "script" not in doc.tags and "i" not in doc.tags
        assert EVIL in doc.shown  # shown exactly as the feed wrote it
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; " in body


@pytest.mark.parametrize("url", ["javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,<b>x</b>", "ftp://x.ro/a", "//evil.com/x"])
def test_email_links_only_web_urls(url):
    hostile = StoryArticle(url, "rau", "ro", "CSTO azi", None)
    for body in (R.alert(alert(articles=(hostile, DIGI)), "email").body, R.digest([alert(articles=(hostile, DIGI))], "email", "d").body):
        doc = page(body)
        assert doc.hrefs == [DIGI.url]
        assert url in doc.shown  # still shown, as text
        assert f'href="{url.split(":")[0]}' not in body


def test_email_marks_matched_words(email):
    doc = page(email)
    assert doc.marks == ["Bișkek", "Kârgâzstan", "KARGAZSTAN", "Kârgâzstan"]
    assert "[[" not in email and "]]" not in email
    assert "<mark>Bișkek</mark>, Kârgâzstan" in email  # around the marked word, not the whole snippet
    assert "&lt;b&gt;au&lt;/b&gt; &amp; semnat" in email  # the rest of the snippet is escaped
    assert "<b>Kârgâzstan</b> (text):" in email


def test_email_why_and_matched_sections(email):
    assert "Why: <code>&#34;Bișkek&#34; AND OTSC; Kârgâzstan</code>" in email
    bare = R.alert(alert(hits=(), clauses=()), "email").body
    assert "Why:" not in bare and "Matched:" not in bare and "<mark>" not in bare


def test_email_romanian_text_intact(email):
    for word in ("Kârgâzstan", "Bișkek", "reuniți în"):
        assert word in email
    assert not re.search(r"&#(?!34;|39;)", email)  # non-ASCII kept as characters, not entities
    email.encode("utf-8")


# -- chat ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chat() -> str:
    return R.alert(alert(), "chat").body


def test_chat_layout(chat):
    lines = [line for line in chat.splitlines() if line]
    assert lines[0] == r"**\[kyrgyzstan\] Summitul OTSC de la Bișkek, Kârgâzstan**"
    assert "Matched: Bișkek, Kârgâzstan" in lines  # unique terms, in order
    assert 'Why: "Bișkek" AND OTSC; Kârgâzstan' in lines
    assert lines[-3:] == [
        "- [digi24 (ro)](https://www.digi24.ro/stiri/externe/summit-bi%C8%99kek-123?a=1&b=2)",
        r"- [bbc\-world (en)](https://www.bbc.co.uk/news/world-asia-1)",
        "- [g4media (ro)](https://www.g4media.ro/otsc)",
    ]
    doc = md_page(chat)
    assert doc.hrefs == [DIGI_LINK, BBC.url, G4.url]
    assert "strong" in doc.tags


@pytest.mark.parametrize(
    "field",
    ["story_title", "watch", "source", "language", "term", "clause"],
)
def test_chat_feed_text_cannot_inject_markdown(field):
    a = {
        "story_title": alert(story_title=MD_EVIL),
        "watch": alert(watch=MD_EVIL),
        "source": alert(articles=(StoryArticle(DIGI.url, MD_EVIL, "ro", "x", None),)),
        "language": alert(articles=(StoryArticle(DIGI.url, "digi24", MD_EVIL, "x", None),)),
        "term": alert(hits=(Hit(MD_EVIL, "title", "[[x]]"),)),
        "clause": alert(clauses=(MD_EVIL,)),
    }[field]
    for body in (R.alert(a, "chat").body, R.digest([a], "chat", MD_EVIL).body):
        expected = [link(x.url) for x in a.articles]
        assert md_links(body) == expected  # only our own links survive
        doc = md_page(body)
        assert doc.hrefs == expected
        assert "img" not in doc.tags and "em" not in doc.tags and "code" not in doc.tags
        assert "[click](htt" in doc.shown  # shown literally, as text (a language is cut to 12 characters)


@pytest.mark.parametrize(
    "url, link",
    [
        ("https://ro.wikipedia.org/wiki/Bișkek_(oraș)", "https://ro.wikipedia.org/wiki/Bi%C8%99kek_%28ora%C8%99%29"),
        ("https://x.ro/a b)](http://evil)", "https://x.ro/a%20b%29%5D%28http://evil%29"),
        ("javascript:alert(1)", None),
        ("data:text/html,x", None),
    ],
)
def test_chat_links_only_web_urls_and_keeps_them_closed(url, link):
    body = R.alert(alert(articles=(StoryArticle(url, "rau", "ro", "t", None),)), "chat").body
    assert md_links(body) == ([link] if link else [])
    assert md_page(body).hrefs == ([link] if link else [])
    if link is None:
        assert "rau (ro): " in body  # shown, as text


@pytest.mark.parametrize(
    "n_articles, max_links, shown, more",
    [
        (3, 5, 3, None),
        (5, 5, 5, None),
        (6, 5, 5, "…and 1 more"),
        (12, 5, 5, "…and 7 more"),
        (12, 2, 2, "…and 10 more"),
        (3, 0, 0, "…and 3 more"),
    ],
)
def test_chat_max_links(n_articles, max_links, shown, more):
    articles = tuple(StoryArticle(f"https://o{i}.ro/a", f"o{i}", "ro", f"t{i}", None) for i in range(n_articles))
    body = Renderer(max_links=max_links).alert(alert(articles=articles), "chat").body
    assert md_links(body) == [a.url for a in articles[:shown]]
    if more:
        assert body.rstrip().endswith(more)
    else:
        assert "more" not in body


def test_chat_stays_short_for_a_long_alert():
    long_title = "Summitul OTSC de la Bișkek. " * 40  # ~1,100 characters, full of characters to escape
    articles = tuple(
        StoryArticle(f"https://www.outlet{i}.ro/stiri/externe/2024/05/01/un-titlu-destul-de-lung-{i}", f"outlet-{i}", "ro", long_title, None)
        for i in range(30)
    )
    hits = tuple(Hit(f"termen-{i}", "text", f"… [[termen-{i}]] …") for i in range(40))
    a = alert(story_title=long_title, articles=articles, hits=hits, clauses=("A. OR B. " * 60,))
    body = R.alert(a, "chat").body
    assert len(body) < 1500, len(body)
    headline = body.splitlines()[0]
    assert headline.startswith(r"**\[kyrgyzstan\] Summitul OTSC de la Bișkek\.") and "…" in headline
    assert len(re.sub(r"\\(.)", r"\1", headline)) < 240  # the title is cut to ~200 characters
    assert body.rstrip().endswith("…and 25 more")


def test_chat_romanian_text_intact(chat):
    assert "Kârgâzstan" in chat and "Bișkek" in chat


# -- webhook ------------------------------------------------------------------------------


def test_webhook_alert_json_exact():
    a = alert(articles=(DIGI, BBC), hits=HITS[:2])
    assert json.loads(R.alert(a, "webhook").body) == {
        "type": "alert",
        "watch": "kyrgyzstan",
        "story_id": 42,
        "headline": "Summitul OTSC de la Bișkek, Kârgâzstan",
        "articles": [
            {"url": DIGI.url, "source": "digi24", "language": "ro", "title": DIGI.title, "published": "2024-05-01T09:30:00+00:00"},
            {"url": BBC.url, "source": "bbc-world", "language": "en", "title": EVIL, "published": None},
        ],
        "matched": [
            {"term": "Bișkek", "field": "title", "snippet": "Summitul OTSC de la [[Bișkek]], Kârgâzstan"},
            {"term": "Kârgâzstan", "field": "text", "snippet": "…liderii din [[Kârgâzstan]] <b>au</b> & semnat, iar [[KARGAZSTAN]]…"},
        ],
        "why": list(CLAUSES),
    }


def test_webhook_is_utf8_json_not_ascii_escapes():
    body = R.alert(alert(), "webhook").body
    assert "Kârgâzstan" in body and "\\u" not in body
    assert EVIL.replace('"', '\\"') in body  # JSON-escaped, not HTML-escaped


# -- follow-ups ---------------------------------------------------------------------------

NEW = [G4, HOSTILE_URL]  # fetched after update_since (11:00)


def test_update_email_lists_only_new_articles():
    body = R.alert(update(), "email").body
    doc = page(body)
    assert doc.hrefs == [G4.url]  # the javascript: URL is new too, but never a link
    for a in NEW:
        assert a.url in doc.shown
    for a in (DIGI, BBC):
        assert a.url not in doc.shown
    assert "2 more article(s) on this story since the last message" in doc.shown
    assert "Now 4 article(s) from 4 outlet(s) (bbc-world, digi24, g4media, rau) in en, ro." in doc.shown


def test_update_chat_lists_only_new_articles():
    body = R.alert(update(), "chat").body
    assert md_links(body) == [G4.url]
    assert "rau (ro): javascript:alert\\(1\\)" in body
    assert "digi24" not in body and "bbc" not in body
    assert body.startswith(r"**\[kyrgyzstan\] Also covered: Summitul")


def test_update_webhook_new_articles():
    data = json.loads(R.alert(update(), "webhook").body)
    assert data["type"] == "update"
    assert data["new_articles"] == [a.url for a in NEW]
    assert [a["url"] for a in data["articles"]] == [a.url for a in ARTICLES + (HOSTILE_URL,)]
    assert "new_articles" not in json.loads(R.alert(alert(), "webhook").body)


def test_update_new_means_fetched_strictly_after():
    data = json.loads(R.alert(alert(update_since=G4.fetched), "webhook").body)
    assert data["new_articles"] == []  # fetched exactly at update_since was in the last message


def test_update_compares_naive_and_aware_times():
    naive_since = datetime(2024, 5, 1, 11, 0)
    data = json.loads(R.alert(alert(articles=ARTICLES, update_since=naive_since), "webhook").body)
    assert data["new_articles"] == [G4.url]


# -- digests ------------------------------------------------------------------------------

STORY_A1 = alert(delivery_id=1, watch="kyrgyzstan", articles=(DIGI, BBC), hits=HITS[:1], clauses=("Bișkek",))
STORY_B = alert(delivery_id=2, watch="csto", story_id=7, story_title="Altă poveste: Moldova", articles=(StoryArticle("https://www.hotnews.ro/md", "hotnews", "ro", "Moldova", None),), hits=(Hit("CSTO", "text", "[[CSTO]]"),), clauses=("CSTO",))
STORY_A2 = alert(delivery_id=3, watch="csto", articles=(BBC, G4), hits=HITS[1:], clauses=("OTSC",))
DIGEST = [STORY_A1, STORY_B, STORY_A2]


def test_digest_email_groups_by_story():
    body = R.digest(DIGEST, "email", "Daily digest").body
    doc = page(body)
    assert doc.headings == ["Summitul OTSC de la Bișkek, Kârgâzstan", "Altă poveste: Moldova"]
    first, second = body.split("<h3>")[1:]
    assert "Watches: <b>csto</b>, <b>kyrgyzstan</b>." in first
    assert "Watches: <b>csto</b>." in second
    assert page(first).hrefs == [DIGI.url, BBC.url, G4.url]  # every article once, in order of appearance
    assert page(second).hrefs == ["https://www.hotnews.ro/md"]
    assert page(first).marks == ["Bișkek", "Kârgâzstan", "KARGAZSTAN", "Kârgâzstan"]
    assert "<h2>Daily digest</h2>" in body and "2 stories, 3 alert(s)" in body


def test_digest_chat_groups_by_story():
    body = Renderer(max_links=2).digest(DIGEST, "chat", "Quiet hours").body
    assert body.startswith("**Quiet hours**")
    assert body.count("Summitul OTSC de la Bișkek, Kârgâzstan") == 1
    first, second = body.split("**Altă poveste: Moldova**")
    assert "Watches: csto, kyrgyzstan · Matched: Bișkek, Kârgâzstan" in first
    assert md_links(first) == [DIGI_LINK, BBC.url] and "…and 1 more" in first  # max_links per story
    assert "Watches: csto · Matched: CSTO" in second and md_links(second) == ["https://www.hotnews.ro/md"]


def test_digest_webhook_shape():
    data = json.loads(R.digest(DIGEST, "webhook", "Daily digest").body)
    assert list(data) == ["type", "heading", "alerts"]
    assert data["type"] == "digest" and data["heading"] == "Daily digest"
    # the alert objects of a single alert, grouped by story in order of first appearance
    assert data["alerts"] == [json.loads(R.alert(a, "webhook").body) for a in (STORY_A1, STORY_A2, STORY_B)]


def test_digest_lists_an_article_once_per_url():
    refetched = StoryArticle(BBC.url, "bbc", "en", "A corrected title", t(10), t(13))
    later = alert(delivery_id=4, watch="other", articles=(refetched, G4))
    for kind in ("email", "chat"):
        body = R.digest([STORY_A1, later], kind, "d").body
        assert body.count(BBC.url) == (2 if kind == "email" else 1)  # email: once as link, once as text
        assert "A corrected title" not in body and "(bbc," not in body and "[bbc (en)]" not in body
    data = json.loads(R.digest([STORY_A1, later], "webhook", "d").body)
    assert data["alerts"][1]["articles"][0]["title"] == "A corrected title"  # the alert objects stay as they were


def test_digest_of_nothing_is_an_error():
    with pytest.raises(ValueError):
        R.digest([], "email", "d")


# -- user templates -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_title_override(kind):
    r = Renderer({kind: {"title": "🔔 {{ watch }} & {{ outlets | length }} outlets: {{ story_title }}\n"}})
    m = r.alert(alert(story_title=EVIL), kind)
    assert m.title == f"🔔 kyrgyzstan & 3 outlets: {EVIL}"  # a title is plain text: never HTML-escaped
    assert m.body == R.alert(alert(story_title=EVIL), kind).body  # the body keeps its default
    assert Renderer().alert(alert(), kind).title == "[kyrgyzstan] Summitul OTSC de la Bișkek, Kârgâzstan"


def test_override_applies_only_to_its_kind():
    r = Renderer({"chat": {"body": "custom"}})
    assert r.alert(alert(), "chat").body == "custom"
    assert r.alert(alert(), "email").body == R.alert(alert(), "email").body


def test_email_body_override_is_autoescaped():
    r = Renderer({"email": {"body": "<h1>{{ story_title }}</h1>{% for h in hits %}<p>{{ h.snippet_html }}</p>{% endfor %}"}})
    body = r.alert(alert(story_title=EVIL), "email").body
    assert body.startswith("<h1>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;x&#34;</h1>")
    assert "<p>Summitul OTSC de la <mark>Bișkek</mark>, Kârgâzstan</p>" in body  # snippet_html is markup already


def test_chat_and_webhook_overrides_are_not_autoescaped():
    r = Renderer({"chat": {"body": "{{ story_title }} | {{ story_title | md }}"}, "webhook": {"body": '{"t": {{ story_title | json }}}'}})
    assert r.alert(alert(story_title="a<b>*"), "chat").body == r"a<b>* | a\<b\>\*"
    assert json.loads(r.alert(alert(story_title=EVIL), "webhook").body) == {"t": EVIL}


def test_override_context_variables():
    source = (
        "{{ watch }}|{{ story_id }}|{{ outlets | join(',') }}|{{ languages | join(',') }}|{{ articles | length }}|"
        "{{ hits[1].snippet_md }}|{{ why | join(';') }}|{{ is_update }}|{{ new_articles | map(attribute='source') | join(',') }}|"
        "{{ alert.delivery_id }}|{{ terms | join(',') }}|{{ kind }}|{{ is_digest }}"
    )
    r = Renderer({"chat": {"body": source}})
    assert r.alert(update(), "chat").body == (
        "kyrgyzstan|42|bbc-world,digi24,g4media,rau|en,ro|4|"
        r"…liderii din **Kârgâzstan** \<b\>au\</b\> & semnat, iar **KARGAZSTAN**…|"
        '"Bișkek" AND OTSC;Kârgâzstan|True|g4media,rau|1|Bișkek,Kârgâzstan|chat|False'
    )


def test_override_digest_context():
    source = "{{ heading }}:{% for s in stories %} {{ s.story_id }}={{ s.headline }}/{{ s.watches | join('+') }}/{{ s.articles | length }}/{{ s.hits | length }}{% endfor %}"
    r = Renderer({"chat": {"body": source}})
    assert r.digest(DIGEST, "chat", "H").body == "H: 42=Summitul OTSC de la Bișkek, Kârgâzstan/csto+kyrgyzstan/3/3 7=Altă poveste: Moldova/csto/1/1"


@pytest.mark.parametrize(
    "overrides, words",
    [
        ({"email": {"body": "<p>ok</p>\n{% if %}\n"}}, ["email", "body", "line 2"]),
        ({"chat": {"title": "{{ watch"}}, ["chat", "title", "line 1"]),
        ({"webhook": {"body": "a\nb\n{{ x | no_such_filter }}"}}, ["webhook", "body", "line 3", "no_such_filter"]),
        ({"sms": {"body": "x"}}, ["sms"]),
        ({"chat": {"subject": "x"}}, ["chat", "subject"]),
        ({"chat": {"body": 5}}, ["chat", "body"]),
        ({"chat": ["body"]}, ["chat"]),
    ],
)
def test_bad_override_is_refused_when_built(overrides, words):
    with pytest.raises(TemplateError) as e:
        Renderer(overrides)
    for w in words:
        assert w in str(e.value)
    assert isinstance(e.value, ValueError)


@pytest.mark.parametrize(
    "kind, field, source, words",
    [
        ("chat", "body", "fine\n{{ no_such_variable }}", ["chat", "body", "line 2", "no_such_variable"]),
        ("email", "title", "{{ alert.no_such_field }}", ["email", "title", "no_such_field"]),
        ("webhook", "body", "{{ alert.__class__.__mro__ }}", ["webhook", "body", "unsafe"]),  # the sandbox
        ("chat", "body", "{{ articles.append(1) }}", ["chat", "body", "unsafe"]),  # immutable sandbox
        ("email", "body", "{{ 1 / 0 }}", ["email", "body", "division by zero"]),
    ],
)
def test_failing_override_raises_template_error_at_render(kind, field, source, words):
    r = Renderer({kind: {field: source}})  # compiles fine
    with pytest.raises(TemplateError) as e:
        r.alert(alert(), kind)
    for w in words:
        assert w in str(e.value)


def test_alert_only_override_fails_for_digest_unless_it_branches():
    with pytest.raises(TemplateError, match="chat title"):
        Renderer({"chat": {"title": "{{ watch }}"}}).digest(DIGEST, "chat", "H")
    r = Renderer({"chat": {"title": "{% if is_digest %}D: {{ heading }}{% else %}{{ watch }}{% endif %}"}})
    assert r.digest(DIGEST, "chat", "H").title == "D: H"
    assert r.alert(alert(), "chat").title == "kyrgyzstan"


def test_max_links_must_be_a_count():
    for bad in (-1, 1.5, "5", True):
        with pytest.raises(ValueError):
            Renderer(max_links=bad)
