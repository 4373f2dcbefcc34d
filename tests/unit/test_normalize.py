"""monitor.normalize: canonical URLs, fingerprints, RawDocument -> Article."""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta, timezone

import pytest

from monitor.normalize import canonical_url, fingerprint, to_article, utc
from monitor.types import RawDocument

FETCHED = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "url,base,expected",
    [
        # tracking parameters go, other parameters stay in order
        ("https://www.digi24.ro/stiri/a?utm_source=fb&utm_medium=social&utm_campaign=x", "", "https://www.digi24.ro/stiri/a"),
        ("https://www.digi24.ro/stiri/a?id=3&utm_source=fb&page=2", "", "https://www.digi24.ro/stiri/a?id=3&page=2"),
        ("https://x.ro/a?UTM_Source=fb&Id=1", "", "https://x.ro/a?Id=1"),
        ("https://x.ro/a?fbclid=IwAR0abc", "", "https://x.ro/a"),
        ("https://x.ro/a?gclid=Cj0K&q=brasov", "", "https://x.ro/a?q=brasov"),
        ("https://x.ro/a?msclkid=1&mc_cid=2&mc_eid=3&igshid=4&yclid=5&_ga=6&ref_src=7&dclid=8", "", "https://x.ro/a"),
        ("https://x.ro/a?ref=home", "", "https://x.ro/a?ref=home"),
        ("https://x.ro/a?q=", "", "https://x.ro/a?q="),
        # fragment dropped
        ("https://x.ro/a#comments", "", "https://x.ro/a"),
        ("https://x.ro/a?p=1#top", "", "https://x.ro/a?p=1"),
        # host and scheme lower-cased, path kept as is
        ("HTTPS://WWW.Digi24.RO/Stiri/Actualitate", "", "https://www.digi24.ro/Stiri/Actualitate"),
        # default ports dropped, others kept
        ("http://x.ro:80/a", "", "http://x.ro/a"),
        ("https://x.ro:443/a", "", "https://x.ro/a"),
        ("https://x.ro:8443/a", "", "https://x.ro:8443/a"),
        ("http://x.ro:443/a", "", "http://x.ro:443/a"),
        ("http://x.ro:8080/a", "", "http://x.ro:8080/a"),
        # empty path becomes /
        ("https://x.ro", "", "https://x.ro/"),
        ("https://x.ro?a=1", "", "https://x.ro/?a=1"),
        # whitespace around the URL (common in feeds)
        ("  \n https://x.ro/a \t", "", "https://x.ro/a"),
        # relative links resolved against the page
        ("/stiri/b?utm_campaign=z#x", "https://www.x.ro/stiri/a.html", "https://www.x.ro/stiri/b"),
        ("../b/c.html", "https://www.x.ro/stiri/a/index.html", "https://www.x.ro/stiri/b/c.html"),
        ("c.html", "https://www.x.ro/stiri/a/index.html", "https://www.x.ro/stiri/a/c.html"),
        ("//cdn.X.ro/y", "https://www.x.ro/a", "https://cdn.x.ro/y"),
        ("https://Other.ro/z", "https://www.x.ro/a", "https://other.ro/z"),
        # non-ASCII query values survive (percent-encoded)
        ("https://x.ro/cauta?q=Bra%C8%99ov&utm_source=x", "", "https://x.ro/cauta?q=Bra%C8%99ov"),
    ],
)
def test_canonical_url(url, base, expected):
    assert canonical_url(url, base) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://x.ro/a?q=a%20b&utm_source=1",
        "HTTP://X.RO:80/a?b=2&a=1#f",
        "https://x.ro/cauta?q=Bra%C8%99ov",
        "https://x.ro",
    ],
)
def test_canonical_url_is_idempotent(url):
    once = canonical_url(url)
    assert canonical_url(once) == once


def test_same_article_different_links_same_canonical():
    variants = [
        "https://www.x.ro/stiri/brasov-12345",
        "https://WWW.X.RO/stiri/brasov-12345?utm_source=facebook&fbclid=abc",
        "https://www.x.ro:443/stiri/brasov-12345#comentarii",
    ]
    assert len({canonical_url(v) for v in variants}) == 1


# ---- fingerprints --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "a,b",
    [
        ("Primăria Brașov a anunțat", "Primaria Brasov a anuntat"),
        ("Primăria Brașov a anunțat", "Primăria Braşov a anunţat"),
        ("Primăria Brașov a anunțat", "PRIMĂRIA BRAȘOV A ANUNȚAT"),
        ("Primăria Brașov a anunțat", "Primăria\n\n  Brașov —  a anunțat."),
        ("Primăria Brașov a anunțat", unicodedata.normalize("NFD", "Primăria Brașov a anunțat")),
    ],
)
def test_fingerprint_equal_for_same_words(a, b):
    assert fingerprint("", a) == fingerprint("", b)
    assert fingerprint("Titlu A", a) == fingerprint("Titlu B", b)  # the text decides when there is one


@pytest.mark.parametrize(
    "a,b",
    [
        ("Primăria Brașov a anunțat", "Primăria Brăila a anunțat"),
        ("Primăria Brașov a anunțat", "a anunțat Primăria Brașov"),
        ("Primăria Brașov a anunțat", "Primăria Brașov a anunțat ieri"),
        ("Legea 123/2024", "Legea 123/2023"),
    ],
)
def test_fingerprint_differs_for_different_text(a, b):
    assert fingerprint("", a) != fingerprint("", b)


def test_fingerprint_falls_back_to_title():
    assert fingerprint("Brașov sub zăpadă", "") == fingerprint("Brasov sub zapada", "")
    assert fingerprint("Brașov sub zăpadă", "") != fingerprint("Iași sub zăpadă", "")


# ---- to_article ----------------------------------------------------------------------------


def doc(**kw) -> RawDocument:
    base = dict(source="digi24", url="https://www.digi24.ro/stiri/a?utm_source=rss", language="ro")
    return RawDocument(**{**base, **kw})


def test_to_article_nfc_and_comma_below():
    decomposed_title = unicodedata.normalize("NFD", "Ninsoare în Braşov şi  Ţara Bârsei")
    a = to_article(doc(title=decomposed_title, text="  Drumurile din Constanţa şi Timişoara.  "), FETCHED)
    assert a.title == "Ninsoare în Brașov și Țara Bârsei"
    assert unicodedata.is_normalized("NFC", a.title)
    assert a.text == "Drumurile din Constanța și Timișoara."
    for bad in "şţŞŢ":
        assert bad not in a.title + a.text


def test_to_article_title_whitespace_collapsed_text_lines_kept():
    a = to_article(doc(title="  Un\n titlu\t lung ", text="Paragraf unu.\nParagraf doi."), FETCHED)
    assert a.title == "Un titlu lung"
    assert a.text == "Paragraf unu.\nParagraf doi."


def test_to_article_summary_used_when_no_text_and_title_from_text():
    a = to_article(doc(title="", text="", summary="Doar un rezumat despre Braşov, fără titlu."), FETCHED)
    assert a.text == "Doar un rezumat despre Brașov, fără titlu."
    assert a.title == a.text[:120]


def test_to_article_urls_and_fields():
    a = to_article(doc(title="T", text="x", guid="  urn:1  ", canonical_url="/stiri/canon#x"), FETCHED)
    assert a.url == "https://www.digi24.ro/stiri/a?utm_source=rss"  # the link as given
    assert a.canonical_url == "https://www.digi24.ro/stiri/canon"  # resolved against the link
    assert a.guid == "urn:1"
    assert (a.source, a.language, a.fetched) == ("digi24", "ro", FETCHED)
    assert a.fingerprint == fingerprint("T", "x")
    b = to_article(doc(title="T", text="x"), FETCHED)
    assert b.canonical_url == "https://www.digi24.ro/stiri/a"


@pytest.mark.parametrize(
    "published,expected",
    [
        (None, None),
        (FETCHED - timedelta(hours=3), FETCHED - timedelta(hours=3)),
        (FETCHED + timedelta(hours=2), FETCHED),  # future: clamped
        (FETCHED + timedelta(days=400), FETCHED),
        (FETCHED, FETCHED),
        # naive dates are UTC
        (datetime(2024, 5, 1, 9, 0), datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc)),
        # other zones converted: 14:00 +03:00 is 11:00 UTC, in the past
        (datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=3))), datetime(2024, 5, 1, 11, 0, tzinfo=timezone.utc)),
        # 14:00 -03:00 is 17:00 UTC, in the future: clamped
        (datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=-3))), FETCHED),
    ],
)
def test_to_article_published(published, expected):
    a = to_article(doc(title="T", text="x", published=published), FETCHED)
    assert a.published == expected
    if a.published is not None:
        assert a.published.utcoffset() == timedelta(0)


def test_utc():
    assert utc(None) is None
    assert utc(datetime(2024, 1, 1)).tzinfo == timezone.utc
    eet = timezone(timedelta(hours=2))
    assert utc(datetime(2024, 1, 1, 2, tzinfo=eet)) == datetime(2024, 1, 1, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "url, expected",
    [
        ("https://x.ro/a?q=a%20b&utm_source=x&flag", "https://x.ro/a?q=a%20b&flag"),
        ("https://x.ro/a?UTM_Medium=rss&id=7", "https://x.ro/a?id=7"),
        ("https://User:Pw@X.RO/a", "https://User:Pw@x.ro/a"),
    ],
)
def test_canonical_url_keeps_the_rest_of_the_query_as_published(url, expected):
    assert canonical_url(url) == expected
