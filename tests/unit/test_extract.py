"""monitor.extract: feeds (bytes -> RawDocuments) and article pages (HTML -> main text)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from monitor.extract import FULLTEXT_MIN_WORDS, extract_page, html_to_text, needs_fulltext, parse_feed, parse_feed_fast, parse_feed_slow

LONG = " ".join(f"Cuvântul{i}" for i in range(FULLTEXT_MIN_WORDS + 30))

RSS2 = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel>
  <title>Digi24</title><link>https://www.digi24.ro/</link><description>Știri</description>
  <item>
    <title>Summitul OTSC la Bișkek</title>
    <link>https://www.digi24.ro/stiri/otsc-1?utm_source=rss</link>
    <guid isPermaLink="false">digi-1</guid>
    <pubDate>Wed, 01 May 2024 09:30:00 +0300</pubDate>
    <description>Scurt rezumat.</description>
    <content:encoded><![CDATA[<p>Primul paragraf despre OTSC.</p><p>{LONG}</p><script>alert("x")</script><style>p{{color:red}}</style>]]></content:encoded>
  </item>
  <item>
    <title>Fără dată</title>
    <link>https://www.digi24.ro/stiri/2</link>
    <description>Text &lt;b&gt;îngroșat&lt;/b&gt; și Pre&amp;#539;</description>
  </item>
  <item>
    <title>Fără link</title>
    <description>Această intrare nu are link și nici guid.</description>
  </item>
  <item>
    <title>Doar guid</title>
    <guid>https://www.digi24.ro/stiri/3</guid>
  </item>
</channel>
</rss>
""".encode("utf-8")

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>World news</title><id>urn:feed</id><updated>2024-05-01T10:00:00Z</updated>
  <entry>
    <title>ICC issues warrant</title>
    <link rel="alternate" href="https://news.example.com/world/1"/>
    <id>urn:news:1</id>
    <updated>2024-05-01T10:00:00Z</updated>
    <summary>The court issued an arrest warrant on Wednesday.</summary>
  </entry>
  <entry>
    <title type="html">Second &lt;em&gt;story&lt;/em&gt;</title>
    <link href="/world/2"/>
    <id>urn:news:2</id>
    <published>2024-05-01T11:00:00+02:00</published>
    <updated>2024-05-02T11:00:00+02:00</updated>
    <summary type="html">&lt;p&gt;Second summary.&lt;/p&gt;</summary>
  </entry>
</feed>
"""

RDF = b"""<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://x.ro/">
    <title>X</title><link>https://x.ro/</link><description>d</description>
    <items><rdf:Seq><rdf:li rdf:resource="https://x.ro/a"/><rdf:li rdf:resource="https://x.ro/b"/></rdf:Seq></items>
  </channel>
  <item rdf:about="https://x.ro/a">
    <title>Unu</title><link>https://x.ro/a</link><description>Descrierea unu</description>
    <dc:date>2024-05-01T08:00:00+03:00</dc:date>
  </item>
  <item rdf:about="https://x.ro/b">
    <title>Doi</title><link>https://x.ro/b</link><description>Descrierea doi</description>
  </item>
</rdf:RDF>
"""

CP1250 = """<?xml version="1.0" encoding="windows-1250"?>
<rss version="2.0"><channel><title>Ştiri</title><link>https://x.ro/</link><description>d</description>
<item><title>Ştiri din Braşov şi Timişoara</title><link>https://x.ro/s</link>
<description>Ţara Bârsei, ţânţari, ăâî</description></item>
</channel></rss>
""".encode("cp1250")

BOZO = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Tom & Jerry</title><link>https://x.ro/</link><description>d</description>
<item><title>Pace & razboi</title><link>https://x.ro/p</link><description>A & B</description></item>
<item><title>Doi</title><link>https://x.ro/d</link><description>Al doilea</description></item>
</channel></rss>
"""


def by_url(result):
    return {d.url: d for d in result.documents}


def test_rss2_with_content_encoded():
    r = parse_feed(RSS2, "https://www.digi24.ro/rss", "digi24", "ro", "application/rss+xml; charset=utf-8")
    assert r.error is None and r.warning is None
    docs = by_url(r)
    assert list(docs) == [
        "https://www.digi24.ro/stiri/otsc-1?utm_source=rss",  # links as given; canonicalisation comes later
        "https://www.digi24.ro/stiri/2",
        "https://www.digi24.ro/stiri/3",  # a guid that is a URL stands in for the link
    ]
    first = docs["https://www.digi24.ro/stiri/otsc-1?utm_source=rss"]
    assert (first.source, first.language, first.guid) == ("digi24", "ro", "digi-1")
    assert first.title == "Summitul OTSC la Bișkek"
    assert first.text.startswith("Primul paragraf despre OTSC.\nCuvântul0 ")
    assert "alert" not in first.text and "color" not in first.text  # script and style dropped
    assert first.summary == "Scurt rezumat."
    assert first.published == datetime(2024, 5, 1, 6, 30, tzinfo=timezone.utc)
    assert not needs_fulltext(first)


def test_rss2_entry_without_date_and_with_html_description():
    docs = by_url(parse_feed(RSS2, "https://www.digi24.ro/rss", "digi24", "ro"))
    second = docs["https://www.digi24.ro/stiri/2"]
    assert second.published is None
    assert second.text == "Text îngroșat și Preț"  # tags gone, entities decoded
    assert needs_fulltext(second)


def test_entries_without_link_are_skipped():
    r = parse_feed(RSS2, "https://www.digi24.ro/rss", "digi24", "ro")
    assert "Fără link" not in {d.title for d in r.documents}
    assert len(r.documents) == 3


def test_atom_summary_only_needs_fulltext():
    r = parse_feed(ATOM, "https://news.example.com/feed.atom", "world", "en", "application/atom+xml")
    assert r.error is None and r.warning is None
    docs = r.documents
    assert [d.url for d in docs] == [
        "https://news.example.com/world/1",
        "https://news.example.com/world/2",  # relative link resolved against the feed URL
    ]
    assert docs[0].guid == "urn:news:1"
    assert docs[0].text == "The court issued an arrest warrant on Wednesday."
    assert docs[0].published == datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)
    assert docs[1].title == "Second story"
    assert docs[1].text == "Second summary."
    assert docs[1].published == datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc)  # published wins over updated
    assert all(needs_fulltext(d) for d in docs)


def test_rss1_rdf():
    r = parse_feed(RDF, "https://x.ro/rdf", "x", "ro", "application/rdf+xml")
    assert r.error is None
    assert [(d.url, d.title, d.text) for d in r.documents] == [
        ("https://x.ro/a", "Unu", "Descrierea unu"),
        ("https://x.ro/b", "Doi", "Descrierea doi"),
    ]
    assert r.documents[0].published == datetime(2024, 5, 1, 5, 0, tzinfo=timezone.utc)
    assert r.documents[1].published is None


@pytest.mark.parametrize(
    "content_type",
    ["", "application/rss+xml", "application/xml", "text/xml", "text/xml; charset=windows-1250"],
)
def test_windows_1250_feed(content_type):
    r = parse_feed(CP1250, "https://x.ro/cp", "x", "ro", content_type)
    assert r.error is None
    assert r.warning is None, r.warning  # a content type without charset is not damage
    [doc] = r.documents
    # the decoded text is exactly what was encoded, cedillas and all (normalize folds them later)
    assert doc.title == "Ştiri din Braşov şi Timişoara"
    assert doc.text == "Ţara Bârsei, ţânţari, ăâî"


def test_windows_1250_feed_survives_a_wrong_charset_header():
    r = parse_feed(CP1250, "https://x.ro/cp", "x", "ro", "application/rss+xml; charset=utf-8")
    assert r.error is None
    [doc] = r.documents
    assert doc.url == "https://x.ro/s"
    assert "Bra" in doc.title


@pytest.mark.parametrize("content_type", ["", "application/rss+xml", "text/html"])
def test_bozo_feed_salvaged_with_warning(content_type):
    r = parse_feed(BOZO, "https://x.ro/b", "x", "ro", content_type)
    assert r.error is None
    assert r.warning and "damaged" in r.warning
    assert [(d.url, d.title) for d in r.documents] == [("https://x.ro/p", "Pace & razboi"), ("https://x.ro/d", "Doi")]


def test_truncated_feed_keeps_complete_entries():
    body = BOZO.replace(b"Al doilea</description></item>\n</channel></rss>\n", b"Al doi")
    assert body != BOZO
    r = parse_feed(body, "https://x.ro/b", "x", "ro", "application/rss+xml")
    assert r.error is None and r.warning
    assert [d.url for d in r.documents][:1] == ["https://x.ro/p"]


@pytest.mark.parametrize(
    "body,content_type",
    [
        (b"\x00\xff<html>not a feed", ""),
        (b"\x00\xff<html>not a feed", "application/rss+xml"),
        (b"<html><head><title>Pagina</title></head><body><p>Nu e feed</p></body></html>", "text/html"),
        (bytes(range(256)) * 4, ""),
        (b"", ""),
        (b"   \n", "application/rss+xml"),
        (b'{"version": "https://jsonfeed.org/version/1", "items": []}', "application/json"),
    ],
)
def test_garbage_gives_error_not_exception(body, content_type):
    r = parse_feed(body, "https://x.ro/g", "x", "ro", content_type)
    assert r.documents == []
    assert r.error and isinstance(r.error, str)


@pytest.mark.parametrize("content_type", ["", "application/rss+xml", "text/xml"])
@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Gol</title><link>https://x.ro/</link></channel></rss>',
        b'<?xml version="1.0"?><rss version="2.0"><channel><link>https://x.ro/</link></channel></rss>',
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><id>urn:x</id></feed>',
    ],
    ids=["rss-with-title", "rss-without-title", "atom"],
)
def test_empty_but_valid_feed_is_not_an_error(body, content_type):
    r = parse_feed(body, "https://x.ro/f", "x", "ro", content_type)
    assert r.documents == [] and r.error is None and r.warning is None


def test_summary_longer_than_content_wins():
    body = b"""<?xml version="1.0"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
    <channel><title>t</title><item><title>x</title><link>https://x.ro/1</link>
    <description>Un rezumat mai lung decat continutul scurt de mai jos.</description>
    <content:encoded>Scurt.</content:encoded></item></channel></rss>"""
    [doc] = parse_feed(body, "https://x.ro/f", "x", "ro").documents
    assert doc.text == "Un rezumat mai lung decat continutul scurt de mai jos."


@pytest.mark.parametrize(
    "html,text",
    [
        ("", ""),
        ("plain text", "plain text"),
        ("A &amp; B &#539; &lt;3", "A & B ț <3"),
        ("<p>Unu</p><p>Doi</p>", "Unu\nDoi"),
        ("Linia unu<br>Linia doi", "Linia unu\nLinia doi"),
        ("<ul><li>a</li><li>b</li></ul>", "a\nb"),
        ("<p>Text <script>var x = 1;</script>curat</p>", "Text curat"),
        ("<p>  mult   spațiu\u00a0aici </p>", "mult spațiu aici"),
        ("<div><h2>Titlu</h2>Corp &amp; suflet</div>", "Titlu\nCorp & suflet"),
    ],
)
def test_html_to_text(html, text):
    assert html_to_text(html) == text


# ---- article pages ---------------------------------------------------------------------------

PARAGRAPHS = "".join(
    f"<p>Paragraful {i}: Summitul Organizației Tratatului de Securitate Colectivă de la Bișkek a reunit "
    "liderii statelor membre, care au discutat despre securitatea regională și despre exercițiile militare comune.</p>"
    for i in range(8)
)

PAGE = f"""<!doctype html>
<html lang="ro"><head><meta charset="utf-8">
<title>Summit OTSC la Bișkek | Știri Example</title>
<meta property="og:title" content="Summit OTSC la Bișkek">
<link rel="canonical" href="https://www.example.ro/stiri/summit-otsc-123">
<meta property="article:published_time" content="2024-05-01T09:00:00+03:00">
</head><body>
<header><nav><ul>
  <li><a href="/">Acasă</a></li>
  <li><a href="/sport">TRAPNAV Sport: cricket și fotbal</a></li>
</ul></nav></header>
<main><article>
  <h1>Summit OTSC la Bișkek</h1>
  {PARAGRAPHS}
</article></main>
<aside><h3>Cele mai citite</h3><ul>
  <li><a href="/x">TRAPASIDE Curtea Penală Internațională a emis un mandat de arestare</a></li>
</ul></aside>
<footer><p>TRAPFOOTER © 2024 Example SRL. Toate drepturile rezervate. Politica de cookies.</p></footer>
</body></html>
"""


@pytest.mark.parametrize("as_bytes", [False, True])
def test_extract_page_keeps_article_drops_furniture(as_bytes):
    html = PAGE.encode("utf-8") if as_bytes else PAGE
    page = extract_page(html, "https://www.example.ro/stiri/summit-otsc-123?utm_source=fb")
    assert page.title == "Summit OTSC la Bișkek"
    assert page.canonical_url == "https://www.example.ro/stiri/summit-otsc-123"
    for i in range(8):
        assert f"Paragraful {i}: Summitul Organizației Tratatului de Securitate Colectivă de la Bișkek" in page.text
    assert "TRAP" not in page.text
    for trap in ("Acasă", "Cele mai citite", "drepturile rezervate", "mandat de arestare"):
        assert trap not in page.text
    assert page.published is not None and page.published.date() == date(2024, 5, 1)


def test_extract_page_title_falls_back_to_html_title():
    page = extract_page("<html><head><title> Doar   titlu </title></head><body></body></html>", "https://x.ro/a")
    assert page.title == "Doar titlu"
    assert page.text == "" and page.canonical_url == "" and page.published is None


@pytest.mark.parametrize("body", [b"", b"\x00\xff", b"<html></html>", "<<<>>>"])
def test_extract_page_never_raises_on_junk(body):
    page = extract_page(body, "https://x.ro/a")
    assert page.text == "" and page.canonical_url == ""


def test_entries_with_non_web_links_are_skipped():
    body = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><title>bad</title><link>javascript:alert(1)</link></item>
<item><title>good</title><link>https://x.ro/a</link></item></channel></rss>"""
    result = parse_feed(body, "https://x.ro/rss", "s", "ro")
    assert [d.url for d in result.documents] == ["https://x.ro/a"]


@pytest.mark.parametrize("content_type", ["", "application/rss+xml", "application/xml; charset=utf-8", "text/xml"])
@pytest.mark.parametrize("body", [RSS2, ATOM, RDF, CP1250, BOZO], ids=["rss2", "atom", "rdf", "cp1250", "bozo"])
def test_fast_and_feedparser_paths_agree(body, content_type):
    url = "https://news.example.com/feed"
    fast = parse_feed_fast(body, url, "s", "ro", content_type)
    # the fast path leaves damaged feeds and a charset header contradicting the document to feedparser
    assert (fast is None) == (body is BOZO or (body is CP1250 and "utf-8" in content_type))
    if fast is not None:
        assert fast == parse_feed_slow(body, url, "s", "ro", content_type)
    assert parse_feed(body, url, "s", "ro", content_type) == parse_feed_slow(body, url, "s", "ro", content_type)
