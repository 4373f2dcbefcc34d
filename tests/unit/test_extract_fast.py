"""The lxml fast path of parse_feed against feedparser: same documents, or it declines.

Differential: every file of feedparser's own test corpus and every fixture feed goes through
parse_feed_fast and parse_feed_slow; wherever the fast path accepts a document, both must give
equal results. The corpus is found as in test_feed_corpus.py (../shared/... from the repository).
"""

from __future__ import annotations

import random
import re
from dataclasses import fields
from pathlib import Path

import feedparser
import pytest
from feedparser.datetimes import _parse_date as feedparser_parse_date
from feedparser.encodings import convert_to_utf8
from feedparser.sanitizer import _sanitize_html
from feedparser.urls import _urljoin, resolve_relative_uris

from benchmarks.bench_ingest import make_feeds
from monitor import extract
from monitor.extract import fast_entries, html_to_text, parse_feed, parse_feed_fast, parse_feed_slow
from outlets import FIXTURES_DIR, PLACEHOLDER  # tests/ is on sys.path (conftest.py)

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpora" / "feedparser-tests" / "tests"
FIXTURE_BASE = b"http://127.0.0.1:8765"
FEED_URL = "http://127.0.0.1/feed"
HEADER = re.compile(rb"^Header:\s*([\w-]+):\s*(.*?)\s*$", re.MULTILINE)
ENTRY_KEYS = ("link", "id", "title", "summary", "content", "published_parsed", "updated_parsed", "created_parsed")


def corpus_cases() -> list[tuple[str, bytes, str, str]]:
    """(name, body, url, content type): each file as a local file, and as served with its Header: lines."""
    cases = []
    for path in sorted(p for p in CORPUS.rglob("*") if p.is_file()):
        body = path.read_bytes()
        name = str(path.relative_to(CORPUS))
        cases.append((name, body, FEED_URL, ""))
        headers = {k.decode().lower(): v.decode() for k, v in HEADER.findall(body[:3000])}
        if "content-type" in headers or "content-location" in headers:
            cases.append((name + " (served)", body, headers.get("content-location", FEED_URL), headers.get("content-type", "")))
    return cases


def fixture_feeds() -> dict[str, bytes]:
    return {
        str(p.relative_to(FIXTURES_DIR)): p.read_bytes().replace(PLACEHOLDER, FIXTURE_BASE)
        for p in sorted(FIXTURES_DIR.rglob("*.xml"))
    }


def fixture_cases() -> list[tuple[str, bytes, str, str]]:
    content_types = ["", "application/rss+xml", "application/xml; charset=utf-8", "text/xml", "application/atom+xml; charset=windows-1250"]
    return [
        (f"{name} [{ct}]", body, FIXTURE_BASE.decode() + "/" + name, ct)
        for name, body in fixture_feeds().items()
        for ct in content_types
    ]


def difference(fast, slow) -> str:
    """'' when the FeedResults are equal, else what differs, field by field."""
    if fast == slow:
        return ""
    out = []
    if (fast.error, fast.warning) != (slow.error, slow.warning):
        out.append(f"error/warning {fast.error!r}/{fast.warning!r} != {slow.error!r}/{slow.warning!r}")
    if len(fast.documents) != len(slow.documents):
        out.append(f"{len(fast.documents)} documents != {len(slow.documents)}")
    for i, (a, b) in enumerate(zip(fast.documents, slow.documents)):
        for f in fields(a):
            if getattr(a, f.name) != getattr(b, f.name):
                out.append(f"document {i} {f.name}: {getattr(a, f.name)!r:.120} != {getattr(b, f.name)!r:.120}")
    return "; ".join(out)


def feedparser_entries(body: bytes, url: str, content_type: str) -> list[dict]:
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    entries = feedparser.parse(body, response_headers=headers).entries
    return [{k: dict.get(e, k) for k in ENTRY_KEYS if k in e} for e in entries]


def comparable(entries: list[dict]) -> list[dict]:
    """Entries with their text fields as parse_feed reads them (the fast path keeps markup the sanitizer
    would only rewrite inside tags, so the raw strings may differ; their text may not)."""
    out = []
    for entry in entries:
        entry = dict(entry)
        for key in ("title", "summary"):
            if key in entry:
                entry[key] = html_to_text(entry[key])
        if "content" in entry:
            entry["content"] = [html_to_text(c["value"]) for c in entry["content"]]
        out.append(entry)
    return out


def differential(cases) -> tuple[int, int, list[str]]:
    """(accepted, entries compared, failures) over (name, body, url, content type) cases."""
    accepted = compared = 0
    failures = []
    for name, body, url, content_type in cases:
        fast = parse_feed_fast(body, url, "s", "en", content_type)
        if fast is None:
            continue
        accepted += 1
        problem = difference(fast, parse_feed_slow(body, url, "s", "en", content_type))
        if problem:
            failures.append(f"{name}: {problem}")
        # stronger: the entries themselves, links or not (most corpus entries have none)
        ours = comparable(fast_entries(body, url, content_type))
        theirs = comparable(feedparser_entries(body, url, content_type))
        compared += len(theirs)
        if ours != theirs:
            failures.append(f"{name}: entries differ:\n  fast       {ours!r:.600}\n  feedparser {theirs!r:.600}")
    return accepted, compared, failures


def test_corpus_found():
    assert CORPUS.is_dir(), f"feed corpus not found at {CORPUS}"


def test_fast_path_matches_feedparser_on_the_corpus():
    cases = corpus_cases()
    assert len(cases) > 2000
    accepted, compared, failures = differential(cases)
    assert failures == [], f"{len(failures)} of {accepted} accepted corpus documents differ:\n" + "\n".join(failures[:30])
    # it must not pass by declining everything: about 840 of the ~2200 cases are plain RSS 2.0 / RSS 1.0 / Atom 1.0
    assert accepted >= 750, f"fast path accepted only {accepted} of {len(cases)} corpus documents"
    assert compared >= 550, f"only {compared} entries compared"


def test_fast_path_matches_feedparser_on_the_fixture_feeds():
    accepted, _, failures = differential(fixture_cases())
    assert failures == [], "\n".join(failures)
    assert accepted >= 15


@pytest.mark.parametrize("name", ["agregator/rss.xml", "gol/rss.xml", "nou/rss.xml", "ro-stiri/rss.xml", "vechi-ro/rss.xml", "wire-en/atom.xml"])
@pytest.mark.parametrize("content_type", ["", "application/rss+xml", "application/atom+xml"])
def test_well_formed_fixture_feeds_take_the_fast_path(name, content_type):
    body = fixture_feeds()[name]
    url = FIXTURE_BASE.decode() + "/" + name
    fast = parse_feed_fast(body, url, "s", "ro", content_type)
    assert fast is not None, f"{name} declined"
    assert fast == parse_feed_slow(body, url, "s", "ro", content_type)
    assert len(fast.documents) == {"gol/rss.xml": 0, "nou/rss.xml": 2, "vechi-ro/rss.xml": 2, "agregator/rss.xml": 3, "wire-en/atom.xml": 3, "ro-stiri/rss.xml": 4}[name]


def test_damaged_fixture_feed_is_left_to_feedparser():
    body = fixture_feeds()["rau/rss.xml"]  # a bare & in a title
    assert parse_feed_fast(body, "http://127.0.0.1:8765/rau/rss.xml", "s", "ro") is None
    assert parse_feed(body, "http://127.0.0.1:8765/rau/rss.xml", "s", "ro").warning


@pytest.mark.parametrize("content_type", ["", "application/rss+xml; charset=utf-8", "text/xml"])
def test_benchmark_feeds_take_the_fast_path(content_type):
    for body in make_feeds(3, 50).values():
        fast = parse_feed_fast(body, "http://127.0.0.1/feed/0.xml", "f0", "ro", content_type)
        assert fast is not None
        assert len(fast.documents) == 50
        assert difference(fast, parse_feed_slow(body, "http://127.0.0.1/feed/0.xml", "f0", "ro", content_type)) == ""


RSS_ITEM = b"<item><title>T</title><link>https://x.ro/a</link><description>D</description></item>"


def rss(items: bytes = RSS_ITEM, head: bytes = b'<?xml version="1.0" encoding="utf-8"?>', attrs: bytes = b"") -> bytes:
    return head + b'<rss version="2.0"' + attrs + b"><channel><title>c</title>" + items + b"</channel></rss>"


def atom(entry: bytes) -> bytes:
    return b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><id>urn:f</id><entry><id>urn:e</id>' + entry + b"</entry></feed>"


DECLINED = {
    "malformed, bare ampersand": (rss(b"<item><title>A & B</title><link>https://x.ro/a</link></item>"), ""),
    "malformed, truncated": (rss()[:-20], ""),
    "malformed, unclosed element": (rss(b"<item><title>T</title><link>https://x.ro/a</item>"), ""),
    "xml:base on the channel": (rss(attrs=b' xml:base="https://other.example/"'), ""),
    "xml:base on an item": (rss(b'<item xml:base="https://other.example/x/"><title>T</title><link>a</link></item>'), ""),
    "base attribute": (rss(b'<item><title>T</title><link base="https://o.example/">a</link></item>'), ""),
    "xhtml content": (atom(b'<title>T</title><link href="https://x.ro/a"/><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>x</p></div></content>'), ""),
    "xhtml title": (atom(b'<title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">T</div></title><link href="https://x.ro/a"/>'), ""),
    "content with src": (atom(b'<title>T</title><link href="https://x.ro/a"/><content src="https://x.ro/a.html"/>'), ""),
    "base64 content": (atom(b'<title>T</title><link href="https://x.ro/a"/><content type="application/octet-stream">eA==</content>'), ""),
    "DOCTYPE with entity": (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY t "Titlu">]>' + rss(b"<item><title>&t;</title><link>https://x.ro/a</link></item>", head=b""), ""),
    "DOCTYPE, Netscape RSS 0.91": (b'<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd">' + rss(head=b""), ""),
    "charset header disagrees with the document": (rss(head=b'<?xml version="1.0" encoding="windows-1250"?>'), "application/rss+xml; charset=utf-8"),
    "charset header disagrees, utf-8 document": (rss(), "text/xml; charset=iso-8859-1"),
    "unknown root": (b"<html><body><p>not a feed</p></body></html>", ""),
    "Atom 0.3": (b'<feed version="0.3" xmlns="http://purl.org/atom/ns#"><entry><title>T</title><link rel="alternate" href="https://x.ro/a"/></entry></feed>', ""),
    "RSS 0.91": (rss().replace(b'version="2.0"', b'version="0.91"'), ""),
    "RSS without version": (rss().replace(b' version="2.0"', b""), ""),
    "RSS 0.90 RDF": (b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://my.netscape.com/rdf/simple/0.9/"><item><title>T</title><link>https://x.ro/a</link></item></rdf:RDF>', ""),
    "item outside the channel": (rss().replace(b"</channel></rss>", b"</channel><item><link>https://x.ro/b</link></item></rss>"), ""),
    "two titles": (rss(b"<item><title>A</title><title>B</title><link>https://x.ro/a</link></item>"), ""),
    "dc:title": (rss(b'<item><dc:title xmlns:dc="http://purl.org/dc/elements/1.1/">A</dc:title><link>https://x.ro/a</link></item>'), ""),
    "markup inside a description": (rss(b"<item><title>T</title><link>https://x.ro/a</link><description><b>x</b></description></item>"), ""),
    "known prefix bound to another namespace": (rss(b'<item><title>T</title><link>https://x.ro/a</link><dc:foo>x</dc:foo></item>', attrs=b' xmlns:dc="http://purl.org/dc/terms/"'), ""),
    "feedparser prefix on an unknown namespace": (rss(b'<item><media:title>T</media:title><link>https://x.ro/a</link></item>', attrs=b' xmlns:media="http://example.com/not-media"'), ""),
    "image inside an item": (rss(b"<item><title>T</title><image><title>I</title><link>https://x.ro/i</link></image><link>https://x.ro/a</link></item>"), ""),
    "UTF-16 document, utf-8 header": ('<?xml version="1.0" encoding="utf-16"?>'.encode("utf-16") + rss(head=b"").decode().encode("utf-16")[2:], "application/rss+xml; charset=utf-8"),
}


@pytest.mark.parametrize("body,content_type", list(DECLINED.values()), ids=list(DECLINED))
def test_fast_path_declines(body, content_type):
    assert parse_feed_fast(body, FEED_URL, "s", "ro", content_type) is None
    assert parse_feed(body, FEED_URL, "s", "ro", content_type) == parse_feed_slow(body, FEED_URL, "s", "ro", content_type)


ACCEPTED = {
    "RSS 2.0": rss(),
    "RSS 2.0 without a declaration": rss(head=b""),
    "guid as link, relative guid resolved": rss(b"<item><title>T</title><guid>g-1</guid><link>https://x.ro/a</link></item><item><guid>https://x.ro/b</guid></item>"),
    "guid isPermaLink false": rss(
        b'<item><title>T</title><guid isPermaLink="false">g-1</guid><link>https://x.ro/a</link></item>'
        b'<item><title>U</title><guid isPermaLink="false">https://x.ro/b</guid></item>'
    ),
    "relative links": rss(b"<item><title>T</title><link>/a/b?c=1&amp;d=2</link></item><item><link>c</link></item><item><link>../d</link></item>"),
    "html in title and description": rss(b"<item><title>A &lt;b&gt;bold&lt;/b&gt; &amp;amp; B</title><link>https://x.ro/a</link><description>&lt;p&gt;Unu&lt;/p&gt;&lt;script&gt;x()&lt;/script&gt;&lt;p&gt;Doi &amp;hellip;&lt;/p&gt;</description></item>"),
    "content:encoded and harmless extras": rss(
        b'<item><title>T</title><link>https://x.ro/a</link><dc:creator>Eu</dc:creator><category>C</category>'
        b'<enclosure url="https://x.ro/a.jpg" type="image/jpeg" length="1"/><media:thumbnail url="https://x.ro/t.jpg"/>'
        b'<comments>https://x.ro/a#c</comments><content:encoded><![CDATA[<p>Corp <a href="/x">link</a></p><p>Doi</p>]]></content:encoded>'
        b'<pubDate>Wed, 26 Nov 2025 10:00:00 +0200</pubDate><source url="https://o.ro/rss">Alta sursa</source></item>',
        attrs=b' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:media="http://search.yahoo.com/mrss/"',
    ),
    "mojibake": rss("<item><title>CafÃ© crème</title><link>https://x.ro/a</link><description>Ã®n È›arÄƒ</description></item>".encode()),
    "cp1252 controls": rss("<item><title>\u0093x\u0094 &#150; CafÃ©</title><link>https://x.ro/a</link><description>&lt;p&gt;a&#150;b&lt;/p&gt;</description></item>".encode()),
    "Atom": atom(b'<title type="html">A &amp;amp; B</title><link rel="alternate" href="/e"/><link rel="enclosure" href="/m.mp3"/>'
                 b"<published>2025-11-26T10:00:00+02:00</published><summary>S</summary><content type=\"html\">&lt;p&gt;C&lt;/p&gt;</content>"),
    "RSS 1.0": b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
               b'<channel rdf:about="https://x.ro/"><title>X</title></channel><item rdf:about="https://x.ro/a"><title>A</title><dc:date>2025-11-26</dc:date></item></rdf:RDF>',
}


@pytest.mark.parametrize("content_type", ["", "application/rss+xml", "application/xml; charset=utf-8"])
@pytest.mark.parametrize("body", list(ACCEPTED.values()), ids=list(ACCEPTED))
def test_fast_path_accepts_and_agrees(body, content_type):
    fast = parse_feed_fast(body, "https://x.ro/feeds/rss.xml", "s", "ro", content_type)
    assert fast is not None
    assert fast.documents
    assert difference(fast, parse_feed_slow(body, "https://x.ro/feeds/rss.xml", "s", "ro", content_type)) == ""


def test_text_xml_without_charset_is_read_in_the_declared_encoding():
    # RFC 3023 says US-ASCII; feedparser falls back to the document's own encoding, and so do we
    body = rss("<item><title>Țară</title><link>https://x.ro/a</link></item>".encode())
    fast = parse_feed_fast(body, FEED_URL, "s", "ro", "text/xml")
    assert fast is not None and fast.documents[0].title == "Țară"
    assert fast == parse_feed_slow(body, FEED_URL, "s", "ro", "text/xml")


def test_parse_feed_uses_the_fast_path(monkeypatch):
    def no_feedparser(*args, **kwargs):
        raise AssertionError("feedparser.parse called")

    monkeypatch.setattr(feedparser, "parse", no_feedparser)
    assert [d.url for d in parse_feed(rss(), FEED_URL, "s", "ro").documents] == ["https://x.ro/a"]


def test_a_fault_in_the_fast_path_falls_back_to_feedparser(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(extract, "fast_entries", broken)
    assert parse_feed(rss(), FEED_URL, "s", "ro") == parse_feed_slow(rss(), FEED_URL, "s", "ro")


# ---- the shortcuts the fast path takes around feedparser's helpers --------------------------


@pytest.mark.parametrize("content_type", ["", "application/rss+xml", "application/xml; charset=utf-8", "text/xml", "text/html", "application/json", "application/atom+xml; charset=us-ascii"])
def test_plain_utf8_is_convert_to_utf8(content_type):
    bodies = [p.read_bytes() for p in sorted(CORPUS.rglob("*.xml"))] + list(fixture_feeds().values()) + list(make_feeds(2, 3).values())
    headers = {"content-location": FEED_URL, **({"content-type": content_type} if content_type else {})}
    taken = 0
    for body in bodies:
        ours = extract._plain_utf8(body, content_type)
        if ours is not None:
            taken += 1
            info: dict = {}
            assert ours == convert_to_utf8(headers, body, info), body[:200]
            assert "bozo_exception" not in info or "Encoding" not in type(info["bozo_exception"]).__name__
    assert taken > 100


URLS = [
    "http://a.ro/b", "https://a.ro:8080/b/c?d=1&e=2", "http://a.ro", "http://a.ro/", "http://a.ro/b?", "http://a.ro/b#", "http://a.ro/b#f",
    "http://a.ro/b;p", "http://a.ro/b/../c", "HTTP://A.RO/b", "http:///a.ro/b", "http://a.ro/ș", "http://ș.ro/", "http://[::1]/",
    "http://a.ro/b c", " http://a.ro/b", "http://a.ro/b\t", "//a.ro/b", "/b/c", "b", "b.html", "./b", "../b", ".", "..", "...", "b/c",
    "?q=1", "#f", "", "g-1-2", "~u", "-x", "a:b", "javascript:alert(1)", "mailto:x@a.ro", "urn:x:1", "tag:a.ro,2025:1", "ftp://a.ro/b",
]
BASES = ["http://127.0.0.1/feed", "https://x.ro/a/b/rss.xml?x=1#f", "https://x.ro", "https://x.ro/a//b/", "http://x.ro/a/../b", "", "feed.xml", "ftp://x.ro/f"]


@pytest.mark.parametrize("base", BASES)
def test_join_is_feedparser_urljoin(base):
    reader = extract._Reader(b"", extract.lxml.etree.fromstring(b"<rss/>"), base)
    for uri in URLS:
        assert reader.join(uri) == _urljoin(base, uri), (base, uri)


def _random_markup(rng: random.Random) -> str:
    tags = ["p", "br", "div", "span", "b", "a", "li", "ul", "h2", "blockquote", "tr", "td", "img", "hr", "pre", "em", "section",
            "script", "style", "noscript", "iframe", "P", "Br", "font", "q", "sup", "figure"]
    text = ["Ana", " are ", "mere", "\n", "  ", "ș", "ț", "é", "Ã©", "&amp;", "&lt;", "&nbsp;", "&#8217;", "&#x219;", "&hellip;",
            "&apos;", "&foo;", "\t", "x>y", "a < b", "€", "\xa0", "&copy;", '"', "&#39;", "\r\n", "&"]
    attrs = ["", ' class="x"', ' href="/rel"', ' href="http://a.ro/c?d=1&amp;e=2"', " title='ș'", ' alt="Știri"', ' style="color:red"',
             ' onclick="alert(1)"', " hidden", " class=x"]
    out = []
    for _ in range(rng.randint(1, 25)):
        r = rng.random()
        tag = rng.choice(tags)
        if r < 0.45:
            out.append(rng.choice(text))
        elif r < 0.7:
            out.append(f"<{tag}{rng.choice(attrs)}>")
        elif r < 0.92:
            out.append(f"</{tag}>")
        else:
            out.append(f"<{tag}{rng.choice(attrs)}/>")
    return "".join(out).strip()


def test_plain_markup_reads_as_sanitized():
    rng = random.Random(7)
    plain = 0
    for _ in range(6000):
        html = _random_markup(rng)
        if not ("<" in html or "&" in html) or not extract._plain_markup(html):
            continue
        plain += 1
        sanitized = _sanitize_html(resolve_relative_uris(html, FEED_URL, "utf-8", "text/html"), "utf-8", "text/html")
        assert html_to_text(extract._unmangle(html)) == html_to_text(extract._unmangle(sanitized)), html
    assert plain > 500


@pytest.mark.parametrize(
    "html,plain",
    [
        ("<p>Unu</p><p>Doi &amp; trei</p>", True),
        ("a<br/>b<br>c<img src='x' alt='y'/>", True),
        ("<P CLASS=\"x\">y</P>", True),
        ("<p/>x", False),  # the sanitizer makes that <p></p>x
        ("a</br>b", False),
        ("<script>x()</script>", False),
        ("<p class=x>y</p>", False),
        ("a < b", False),
        ("&foo;", False),  # the sanitizer writes &amp;foo
        ("<b>x</b class=\"y\">", False),
        ("<!-- c -->x", False),
    ],
)
def test_plain_markup_cases(html, plain):
    assert extract._plain_markup(html) is plain


@pytest.mark.parametrize(
    "text",
    ["", "a", "a b", " a", "a ", "a  b", "a\nb", "a\tb", "a\xa0b", "a\u2028b", "ș ț", "a\x1cb", "\u200bx", "a\r\nb\n\n c "],
)
def test_tidy_and_words(text):
    slow = "\n".join(x for x in (" ".join(line.split()) for line in text.replace("\xa0", " ").splitlines()) if x)
    assert extract._tidy(text) == slow
    assert extract._words(slow) == len(slow.split())


@pytest.mark.parametrize(
    "value",
    ["Wed, 26 Nov 2025 03:00:00 GMT", "Wed, 26 Nov 2025 03:00:00 +0300", "2025-11-26T10:00:00Z", "2025-11-26", "26 Nov 2025",
     "2025-W48", "20251126", "Thu Nov 27 10:00:00 2025", "not a date", "", "2025-13-45T99:00:00Z"],
)
def test_dates_as_feedparser_reads_them(value):
    assert extract._parse_date(value) == feedparser_parse_date(value)
    assert extract._parse_date(value) == feedparser_parse_date(value)  # again, from the cache where it was kept
