"""monitor.notify.render: one Alert -> title, plain text and HTML (pure; nothing is sent)."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from html.parser import HTMLParser

import pytest

from monitor.notify import Message, render
from monitor.types import Alert, Hit, StoryArticle

EVIL = '<script>alert(1)</script> & "x"'

ARTICLES = (
    StoryArticle(
        url="https://www.digi24.ro/stiri/externe/summit-bișkek-123?a=1&b=2",
        source="digi24",
        language="ro",
        title="Summitul OTSC de la Bișkek, Kârgâzstan",
        published=datetime(2024, 5, 1, 9, 30, tzinfo=timezone.utc),
    ),
    StoryArticle(
        url="https://www.bbc.co.uk/news/world-asia-1",
        source="bbc-world",
        language="en",
        title=EVIL,
        published=None,
    ),
    StoryArticle(
        url="https://www.g4media.ro/otsc",
        source="g4media",
        language="ro",
        title="Liderii OTSC, reuniți în Kârgâzstan",
        published=datetime(2024, 5, 1, 11, 5, tzinfo=timezone.utc),
    ),
)

HITS = (
    Hit(term="Bișkek", field="title", snippet="Summitul OTSC de la [[Bișkek]], Kârgâzstan"),
    Hit(term="Kârgâzstan", field="text", snippet="…liderii din [[Kârgâzstan]] <b>au</b> & semnat, iar [[KARGAZSTAN]]…"),
)


def alert(**kw) -> Alert:
    base = dict(
        delivery_id=1,
        watch="kyrgyzstan",
        target="desk",
        story_id=42,
        story_title="Summitul OTSC de la Bișkek, Kârgâzstan",
        articles=ARTICLES,
        hits=HITS,
    )
    return Alert(**{**base, **kw})


class _Collect(HTMLParser):
    """The text and tags of an HTML document, as a browser would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.tags: list[str] = []
        self.marks: list[str] = []
        self.hrefs: list[str] = []
        self._in_mark = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "mark":
            self._in_mark = True
            self.marks.append("")
        if tag == "a":
            self.hrefs.append(dict(attrs).get("href", ""))

    def handle_endtag(self, tag):
        if tag == "mark":
            self._in_mark = False

    def handle_data(self, data):
        self.text.append(data)
        if self._in_mark:
            self.marks[-1] += data


def parse_html(html: str) -> _Collect:
    p = _Collect()
    p.feed(html)
    p.close()
    return p


@pytest.fixture(scope="module")
def message() -> Message:
    return render(alert())


def test_title_names_watch_and_story(message):
    assert "kyrgyzstan" in message.title
    assert "Summitul OTSC de la Bișkek, Kârgâzstan" in message.title
    assert "\n" not in message.title


def test_text_lists_every_article_source_and_url(message):
    for a in ARTICLES:
        assert a.source in message.text
        assert a.url in message.text
        assert a.title in message.text  # plain text: the title as written, nothing to escape
    # each article's source and URL sit together, in the story's order
    positions = [message.text.index(a.url) for a in ARTICLES]
    assert positions == sorted(positions)
    assert "2024-05-01 09:30 UTC" in message.text
    assert "date unknown" in message.text  # the article without a date


def test_text_mentions_outlets_and_languages(message):
    assert "3 outlet(s)" in message.text
    assert "bbc-world, digi24, g4media" in message.text
    assert "en, ro" in message.text


def test_text_quotes_matched_words(message):
    assert "[[" not in message.text and "]]" not in message.text
    assert "«Bișkek»" in message.text
    assert "«Kârgâzstan»" in message.text and "«KARGAZSTAN»" in message.text
    assert "Bișkek (title)" in message.text and "Kârgâzstan (text)" in message.text


def test_html_escapes_feed_text(message):
    html = message.html
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;" in html
    assert "<b>au</b>" not in html and "&lt;b&gt;au&lt;/b&gt;" in html
    doc = parse_html(html)
    assert "script" not in doc.tags
    # a browser shows the text exactly as the feed wrote it
    shown = "".join(doc.text)
    assert EVIL in shown
    assert "<b>au</b> & semnat" in shown


def test_html_links_every_article(message):
    doc = parse_html(message.html)
    for a in ARTICLES:
        assert a.url in doc.hrefs  # &amp; in the attribute decodes back to the real URL
        assert a.source in "".join(doc.text)
    assert 'href="https://www.digi24.ro/stiri/externe/summit-bișkek-123?a=1&amp;b=2"' in message.html


def test_html_marks_matched_words(message):
    doc = parse_html(message.html)
    assert doc.marks == ["Bișkek", "Kârgâzstan", "KARGAZSTAN"]
    assert "[[" not in message.html and "]]" not in message.html
    assert "<mark>Bișkek</mark>" in message.html


def test_romanian_text_intact_in_every_part(message):
    for part in (message.title, message.text, message.html):
        assert "Kârgâzstan" in part and "Bișkek" in part
        part.encode("utf-8")  # no lone surrogates or other unencodable text
    assert re.search(r'<meta charset="utf-8">', message.html, re.I)
    assert "&#" not in message.html  # non-ASCII kept as characters, not entity soup


def test_no_hits_renders_without_matched_section():
    m = render(alert(hits=()))
    assert "Matched" not in m.text and "<mark>" not in m.html
    assert all(a.url in m.text for a in ARTICLES)


def test_watch_name_escaped_in_html():
    m = render(alert(watch="a<b>&c", articles=ARTICLES[:1]))
    assert "[a<b>&c]" in m.title
    assert "a&lt;b&gt;&amp;c" in m.html and "a<b>&c" not in m.html
    assert "1 outlet(s) (digi24) in ro" in m.text


def test_only_web_links_are_clickable():
    from monitor.types import StoryArticle

    hostile = StoryArticle("javascript:alert(1)", "rau", "ro", "CSTO azi", None)
    page = parse_html(render(alert(articles=(hostile,))).html)
    assert page.hrefs == []
    assert "javascript:alert(1)" in "".join(page.text)  # still shown, as text
