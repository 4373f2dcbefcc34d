"""Bytes in, RawDocuments out: feeds through lxml or feedparser, article pages through trafilatura.

Pure functions: they never fetch. The spiders hand them response bodies. parse_feed reads plain
RSS 2.0, RSS 1.0 and Atom 1.0 with lxml (parse_feed_fast: feedparser's results, or it declines)
and everything else with feedparser (parse_feed_slow).
"""

from __future__ import annotations

import calendar
import codecs
import html.entities as html_entities
import itertools
import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from html import unescape
from datetime import datetime, timezone

import feedparser
import lxml.etree
import lxml.html
from feedparser import datetimes as feedparser_dates
from feedparser.datetimes.rfc822 import _parse_date_rfc822
from feedparser.datetimes.w3dtf import _parse_date_w3dtf
from feedparser.encodings import RE_XML_PI_ENCODING, convert_to_utf8, parse_content_type
from feedparser.exceptions import CharacterEncodingOverride, CharacterEncodingUnknown
from feedparser.html import _BaseHTMLProcessor, _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.sanitizer import _HTMLSanitizer, _sanitize_html
from feedparser.urls import _urljoin, make_safe_absolute_uri, resolve_relative_uris

from monitor.types import RawDocument

log = logging.getLogger(__name__)

# Below this many words the feed text is taken for a teaser and the page is fetched.
FULLTEXT_MIN_WORDS = 120


@dataclass
class FeedResult:
    documents: list[RawDocument] = field(default_factory=list)
    error: str | None = None  # the feed could not be read at all
    warning: str | None = None  # read, but damaged (entries salvaged)


_UNSEEN = lxml.etree.XPath("//script|//style|//noscript")
_BLOCKS = lxml.etree.XPath("//p|//br|//div|//li|//h1|//h2|//h3|//h4|//blockquote|//tr")


def html_to_text(html: str) -> str:
    """Text of an HTML fragment, paragraphs on their own lines."""
    if not html or "<" not in html:
        return _tidy(unescape(html or ""))  # no tags, but entities (&#539; &amp;) still to decode
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return _tidy(unescape(re.sub(r"<[^>]+>", " ", html)))
    for bad in _UNSEEN(root):
        bad.drop_tree()
    for block in _BLOCKS(root):
        block.tail = "\n" + (block.tail or "")
    return _tidy(root.text_content())


def _tidy(text: str) -> str:
    # printable means no whitespace but the ASCII space (line breaks, tabs, \xa0 are not printable)
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text
    lines = (" ".join(line.split()) for line in text.replace("\xa0", " ").splitlines())
    return "\n".join(line for line in lines if line)


def _words(tidy: str) -> int:
    """len(tidy.split()) for a string _tidy returned: single spaces and newlines between words."""
    return tidy.count(" ") + tidy.count("\n") + 1 if tidy else 0


def _when(entry: Mapping) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), tz=timezone.utc)
            except (OverflowError, ValueError, OSError):
                continue
    return None


def _document(entry: Mapping, source: str, language: str) -> RawDocument | None:
    """The RawDocument for one feed entry (a feedparser entry or the fast path's dict of the same keys)."""
    link = entry.get("link") or ""
    guid = entry.get("id") or entry.get("guid") or ""
    if not link and guid.startswith(("http://", "https://")):
        link = guid
    if not link.lower().startswith(("http://", "https://")):
        log.debug("%s: entry without a web link skipped: %r", source, entry.get("title"))
        return None
    content = " ".join(c.get("value", "") for c in entry.get("content", []) or [])
    summary = entry.get("summary", "") or ""
    text = html_to_text(content) if content else ""
    summary_text = html_to_text(summary)
    if _words(summary_text) > _words(text):
        text = summary_text
    return RawDocument(
        source=source,
        url=link,
        language=language,
        title=html_to_text(entry.get("title", "") or ""),
        text=text,
        summary=summary_text,
        guid=guid,
        published=_when(entry),
    )


def parse_feed(body: bytes, url: str, source: str, language: str, content_type: str = "") -> FeedResult:
    """Every entry that has a link or an id becomes a RawDocument; damage is reported, not raised."""
    try:
        result = parse_feed_fast(body, url, source, language, content_type)
    except Exception:  # a fault in the fast path must not cost the feed: feedparser still reads it
        log.warning("%s: fast feed reader failed, falling back to feedparser", source, exc_info=True)
        result = None
    return result if result is not None else parse_feed_slow(body, url, source, language, content_type)


def parse_feed_slow(body: bytes, url: str, source: str, language: str, content_type: str = "") -> FeedResult:
    """parse_feed through feedparser alone: reads anything, damaged feeds included."""
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    try:
        parsed = feedparser.parse(body, response_headers=headers)
    except Exception as exc:  # feedparser is robust, but a broken document must never stop a crawl
        return FeedResult(error=f"feed could not be parsed: {exc}")
    result = FeedResult()
    problem = parsed.get("bozo_exception")
    # feedparser flags a missing/odd Content-Type or a charset override as bozo too; the
    # feed itself is fine then (its own base class says so), so that is no damage
    damaged = bool(parsed.bozo) and problem is not None and not isinstance(problem, feedparser.exceptions.ThingsNobodyCaresAboutButMe)
    if not parsed.entries:
        if (damaged and not parsed.get("feed", {}).get("title")) or not parsed.get("version"):
            reason = problem if damaged else "no RSS or Atom document found" + (f" ({problem})" if problem else "")
            result.error = f"not a readable RSS/Atom feed: {reason}"
        return result
    if damaged:
        result.warning = f"damaged feed, entries salvaged: {problem}"
    for entry in parsed.entries:
        doc = _document(entry, source, language)
        if doc is not None:
            result.documents.append(doc)
    return result


# ---- fast path -------------------------------------------------------------------------------
#
# It follows feedparser's strict (SAX) parser step by step: the same bytes (feedparser's own
# re-encoding to UTF-8), the same element names (namespace URI -> feedparser's prefix, names
# lower-cased), and per element the same post-processing as _FeedParserMixin.pop. Entries are
# read only when every element in them is one whose effect on the entry is modelled here, or
# one known to touch nothing parse_feed reads; anything else declines the whole document.

ATOM_NS = "http://www.w3.org/2005/Atom"
RSS10_NS = "http://purl.org/rss/1.0/"
RSS090_NS = "http://my.netscape.com/rdf/simple/0.9/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_RDF_ABOUT = "{%s}about" % RDF_NS

_KNOWN_NS = {uri.lower(): prefix for uri, prefix in _FeedParserMixin.namespaces.items()}
_KNOWN_PREFIXES = {prefix.lower() for prefix in _KNOWN_NS.values() if prefix}
_HTML_TYPES = _FeedParserMixin.html_types
_looks_like_html = _FeedParserMixin.looks_like_html

# feedparser name -> (kind, entry key, default content type) of the elements that set what parse_feed reads
_FIELDS = {
    "title": ("text", "title", "text/plain"),
    "description": ("text", "summary", "text/html"),
    "summary": ("text", "summary", "text/plain"),
    "content_encoded": ("text", "content", "text/html"),
    "content": ("text", "content", "text/plain"),
    "link": ("link", "link", None),
    "guid": ("id", "id", None),
    "id": ("id", "id", None),
    **{name: ("date", key + "_parsed", None) for name, key in {
        "pubdate": "published", "published": "published", "issued": "published", "dcterms_issued": "published",
        "updated": "updated", "modified": "updated", "lastbuilddate": "updated", "dc_date": "updated",
        "dcterms_modified": "updated", "created": "created", "dcterms_created": "created",
    }.items()},
}
_NO_ATTRS: frozenset[str] = frozenset()
_FIELD_ATTRS = {"text": frozenset({"type"}), "date": _NO_ATTRS, "id": frozenset({"ispermalink"}),
                "link": frozenset({"rel", "type", "href", "hreflang", "title", "length"})}
_CONTENT_TYPES = {"text": "text/plain", "plain": "text/plain", "text/plain": "text/plain", "html": "text/html", "text/html": "text/html"}
# elements whose feedparser handlers write nothing parse_feed reads and change no state it depends on
_HARMLESS = {
    "author", "dc_author", "dc_creator", "itunes_author", "managingeditor", "webmaster", "dc_publisher",
    "name", "email", "uri", "url", "homepage", "contributor", "dc_contributor",
    "category", "keywords", "dc_subject", "media_category", "itunes_category", "itunes_keywords", "media_keywords", "tags",
    "enclosure", "cloud", "generator", "language", "dc_language", "expirationdate", "dcterms_valid", "newlocation",
    "media_content", "media_thumbnail", "media_group", "media_credit", "media_rating", "media_restriction",
    "media_license", "media_player", "itunes_image", "itunes_link", "itunes_block", "itunes_explicit",
    "itunes_email", "itunes_name", "itunes_owner", "cc_license", "creativecommons_license", "width", "height",
    "psc_chapters", "psc_chapter",
    # text constructs of their own (read only without child elements)
    "rights", "copyright", "dc_rights", "subtitle", "tagline", "itunes_subtitle", "info", "feedburner_browserfriendly",
}
_LEAVES = {"rights", "copyright", "dc_rights", "subtitle", "tagline", "itunes_subtitle", "info", "feedburner_browserfriendly"}
# inside an entry's <source> everything is saved to the source, not the entry
_IN_SOURCE = _HARMLESS | {"title", "link", "id", "guid", "updated", "published", "pubdate", "modified", "issued", "created", "dc_date"}
_SOURCE_LEAVES = _LEAVES | {"title"}
# keys an element without a feedparser handler must not be stored under
_RESERVED = {"link", "links", "id", "guid", "title", "summary", "content", "description", "source", "guidislink",
             "published", "updated", "created", "published_parsed", "updated_parsed", "created_parsed",
             "title_detail", "summary_detail", "item", "entry"}

_XMLNS = re.compile(rb"""xmlns(?::([^\s=>/'"]+))?\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_XML_DECLARATION = re.compile(rb"^<\?xml[^>]*?>")  # feedparser's RE_XML_DECLARATION, on bytes
_UTF8_DECLARATION = b"<?xml version='1.0' encoding='utf-8'?>"
_DECLARED_ENCODING = re.compile(rb"""<\?xml[^>]*?encoding\s*=\s*["']([^"']*)""")
_ASCII_SUPERSETS = {"ascii", "iso8859-1", "iso8859-2", "cp1250", "cp1252"}
# xml:base, or any attribute feedparser sees as base (it drops namespace prefixes), moves its base URI
_BASE_ATTRIBUTES = lxml.etree.XPath("//@*[translate(local-name(), 'BASE', 'base') = 'base']")
# every spelling of item and entry (feedparser lower-cases names), in any namespace
_ENTRY_CANDIDATES = tuple(
    "{*}" + "".join(chars) for word in ("item", "entry") for chars in itertools.product(*({c, c.upper()} for c in word))
)
_VOID_TAGS = {"br", "hr", "img"}
_KEPT_TAGS = _HTMLSanitizer.acceptable_elements & {
    "a", "abbr", "acronym", "address", "article", "aside", "b", "big", "blockquote", "caption", "center", "cite",
    "code", "dd", "del", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "font", "footer", "h1", "h2", "h3",
    "h4", "h5", "h6", "header", "i", "ins", "kbd", "li", "nav", "ol", "p", "pre", "q", "s", "samp", "section", "small",
    "span", "strike", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "tt", "u",
    "ul", "var",
} - _BaseHTMLProcessor.elements_no_end_tag
_SPACE = "[ \\t\\n\\r\\f]"
_MARKUP_TAG = re.compile(
    f"<(/?)([a-zA-Z][a-zA-Z0-9]*+)"
    f"((?>(?:{_SPACE}+[a-zA-Z_][-a-zA-Z0-9_:.]*(?:{_SPACE}*={_SPACE}*(?:\"[^\"<>]*\"|'[^'<>]*'))?)*)){_SPACE}*(/?)>"
)
_REFERENCE = re.compile("&(?:([a-zA-Z][a-zA-Z0-9]*)|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")
_ANY_TAG = re.compile("<[^>]*>")
_ENTITY_NAMES = set(html_entities.name2codepoint) | {"apos"}
_ABSOLUTE_URL = re.compile(r"https?://[A-Za-z0-9.\-]+(?::[0-9]+)?(?:/[^\x00-\x20?#;\\]*)?(?:\?[^\x00-\x20#]+)?\Z")
_PATH_SEGMENT = re.compile(r"[A-Za-z0-9_~\-][A-Za-z0-9_~.\-]*\Z")
_FIRST_ELEMENT = re.compile(rb"<\w")
_C1 = re.compile("[\x80-\x9f]")
_C1_BYTES = re.compile(rb"\xc2[\x80-\x9f]")
_C1_REFERENCE = re.compile(rb"&#(?:[xX]0*[89][0-9a-fA-F]|0*1(?:2[89]|[3-5][0-9]));")
_LINK_ENTITY = re.compile("&([A-Za-z0-9_]+);")
_parsers = threading.local()


class _Decline(Exception):
    """The fast path is not sure to match feedparser here."""


def parse_feed_fast(body: bytes, url: str, source: str, language: str, content_type: str = "") -> FeedResult | None:
    """parse_feed for well-formed RSS 2.0, RSS 1.0 and Atom 1.0 read with lxml, or None to leave the feed to feedparser.

    Where it returns a result, it is the one parse_feed_slow gives for the same arguments.
    """
    entries = fast_entries(body, url, content_type)
    if entries is None:
        return None
    return FeedResult(documents=[d for d in (_document(e, source, language) for e in entries) if d is not None])


def fast_entries(body: bytes, url: str, content_type: str = "") -> list[dict] | None:
    """The entries feedparser would find, as dicts of the keys parse_feed reads, or None when not sure.

    Keys, where feedparser sets them: link, id, title, summary, content ([{"value": ...}]),
    published_parsed, updated_parsed, created_parsed.
    """
    try:
        data = _utf8(body, url, content_type)
        root = lxml.etree.fromstring(data, _parser())
        return _Reader(data, root, _base(url)).entries()
    except (_Decline, lxml.etree.XMLSyntaxError):
        return None


def _parser() -> lxml.etree.XMLParser:
    parser = getattr(_parsers, "parser", None)
    if parser is None:  # lxml parsers are not to be shared between threads
        parser = _parsers.parser = lxml.etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=False)
    return parser


def _utf8(body: bytes, url: str, content_type: str) -> bytes:
    """The bytes feedparser's strict parser would see (feedparser.encodings.convert_to_utf8)."""
    own = _own_encoding(body)
    _, charset = parse_content_type(content_type)
    if charset and not _same_encoding(charset, own):
        raise _Decline("Content-Type charset and document encoding disagree")
    data = _plain_utf8(body, content_type)
    if data is None:
        headers = {"content-location": url}
        if content_type:
            headers["content-type"] = content_type
        info: dict = {}
        data = convert_to_utf8(headers, body, info)
        problem = info.get("bozo_exception")
        if not info.get("encoding") or isinstance(problem, CharacterEncodingUnknown):
            raise _Decline("encoding unknown")
        if isinstance(problem, CharacterEncodingOverride) and not _same_encoding(info["encoding"], own):
            raise _Decline("document not in its own encoding")  # feedparser had to guess
    first = _FIRST_ELEMENT.search(data)
    head = data[: first.start()] if first else data
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:  # feedparser rewrites DTDs (replace_doctype)
        raise _Decline("DTD")
    return data


def _plain_utf8(body: bytes, content_type: str) -> bytes | None:
    """convert_to_utf8's result, computed cheaply, for a document it reads as UTF-8 (or ASCII); else None.

    convert_to_utf8 itself spends most of its time in a regex over the first line, which in a
    feed written without newlines is the whole document.
    """
    if body[:1] != b"<" or b"\x00" in body[:4]:  # BOMs and UTF-16/32 or EBCDIC markers
        return None
    # feedparser reads the encoding with a regex over the whole first line; with at most one
    # encoding=, before the first ?>, the line up to that ?> gives the same answer
    newline = body.find(b"\n")
    line = body if newline < 0 else body[:newline]
    end = line.find(b"?>")
    declared = line.count(b"encoding=")
    if declared > 1 or (declared and line.find(b"encoding=") > end):
        return None
    match = RE_XML_PI_ENCODING.match(line[: end + 2]) if declared else None
    if declared and match is None:
        return None
    try:
        xml_encoding = match.group(1).decode("utf-8").lower() if match else ""
        codec = codecs.lookup(_rfc3023_encoding(content_type, xml_encoding)).name
    except (UnicodeDecodeError, LookupError):
        return None
    if codec != "utf-8" and not (codec in _ASCII_SUPERSETS and body.isascii()):
        return None
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    declaration = _XML_DECLARATION.match(body)
    return _UTF8_DECLARATION + (body[declaration.end():] if declaration else b"\n" + body)


def _rfc3023_encoding(content_type: str, xml_encoding: str) -> str:
    """The encoding convert_to_utf8 tries first (RFC 3023 rules, for the headers parse_feed passes)."""
    mime, http_encoding = parse_content_type(content_type)
    if mime in ("application/xml", "application/xml-dtd", "application/xml-external-parsed-entity") or (
        mime.startswith("application/") and mime.endswith("+xml")
    ):
        encoding = http_encoding or xml_encoding or "utf-8"
    elif mime.startswith("text/"):
        encoding = http_encoding or "us-ascii"
    elif not content_type:
        encoding = xml_encoding or "iso-8859-1"
    else:
        encoding = xml_encoding or "utf-8"
    return "gb18030" if encoding.lower() == "gb2312" else encoding


def _own_encoding(body: bytes) -> str:
    if body[:3] == codecs.BOM_UTF8:
        return "utf-8"
    if body[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return "utf-16"
    match = _DECLARED_ENCODING.match(body)
    return match.group(1).decode("ascii", "replace") if match else "utf-8"


def _same_encoding(a: str, b: str) -> bool:
    try:
        return codecs.lookup(a).name == codecs.lookup(b).name
    except LookupError:
        return False


def _base(url: str) -> str:
    """feedparser's base URI for a document without xml:base: the Content-Location, made absolute at the root."""
    if not url:
        return ""
    base = make_safe_absolute_uri(url, url) or url
    if (make_safe_absolute_uri(base, base) or base) != base:  # it is re-made at every element
        raise _Decline("base URI not stable")
    return base


def _unmangle(value: str, c1: bool = True) -> str:
    """The last steps of feedparser's pop(): undo UTF-8 read as Latin-1, map C1 controls to cp1252."""
    if value.isascii():
        return value
    try:
        value = value.encode("iso-8859-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    return value.translate(_cp1252) if c1 and _C1.search(value) else value


def _plain_markup(html: str) -> bool:
    """Whether feedparser's URI resolver and sanitizer would leave html_to_text(html) as it is.

    True for markup of elements the sanitizer keeps, with quoted attributes and well-formed
    references: both rebuild it tag for tag and reference for reference (attributes aside), so
    lxml builds the same tree from their output as from the original. Then the stored value is
    the original markup, not the sanitized one; parse_feed only reads its text.
    """
    tags = _MARKUP_TAG.findall(html)
    if html.count("<") != len(tags):
        return False  # a "<" that starts no tag of the simple form (attribute values hold no < or >)
    for slash, name, attributes, self_closing in tags:
        name = name.lower()
        if slash and (attributes or self_closing or name in _VOID_TAGS):
            return False
        if name not in _VOID_TAGS and (name not in _KEPT_TAGS or self_closing):
            return False
    if "&" in html:
        references = _REFERENCE.findall(html)
        if html.count("&") != len(references):
            return False
        if not all(name in _ENTITY_NAMES for name in references if name):
            return False  # the sanitizer rewrites references to names it does not know
    if html.isascii():
        return True
    # pop() re-decodes Latin-1 as UTF-8 where that works: it must work on both or on neither,
    # so the text must hold a character beyond Latin-1 (then it fails on both) or none beyond ASCII
    try:
        html.encode("iso-8859-1")
    except UnicodeEncodeError:
        if all(attributes.isascii() for _, _, attributes, _ in tags):
            return True
        text = _ANY_TAG.sub("", html)
        try:
            text.encode("iso-8859-1")
        except UnicodeEncodeError:
            return True
        return text.isascii()
    return _ANY_TAG.sub("", html).isascii()


class _Reader:
    """One parsed document, read the way feedparser's strict parser reads it."""

    def __init__(self, data: bytes, root: lxml.etree._Element, base: str):
        self.root = root
        self.base = base
        self.names: dict[str, str] = {}
        self._namespaces(data)
        if _BASE_ATTRIBUTES(root):
            raise _Decline("base URI set in the document")
        # a relative link that is one plain path segment resolves to this directory + the segment
        probe = _urljoin(base, "x")
        self.directory = probe[:-1] if probe.endswith("/x") else None
        # C1 controls (feedparser maps them to cp1252) only where the bytes or a character reference hold one
        self.c1 = bool(_C1_BYTES.search(data) or _C1_REFERENCE.search(data))

    def join(self, uri: str) -> str:
        """feedparser's _urljoin(base, uri), without urllib for plain absolute URLs and plain relative names."""
        if _ABSOLUTE_URL.match(uri):
            return uri
        if self.directory is not None and _PATH_SEGMENT.match(uri):
            return self.directory + uri
        return _urljoin(self.base, uri)

    def _namespaces(self, data: bytes) -> None:
        # Every declaration, in document order (a superset: text that looks like one counts too).
        by_prefix: dict[str, str] = {}
        prefixes: dict[str, set[str]] = {}  # unknown namespace URI -> its prefixes ("" for a default)
        versions = []  # namespaces by which feedparser tells the feed version, first one wins
        for m in _XMLNS.finditer(data):
            prefix = m.group(1).decode("utf-8") if m.group(1) else None
            uri = (m.group(2) if m.group(2) is not None else m.group(3)).decode("utf-8")
            if not uri:
                continue
            if "&" in uri or "\t" in uri or "\n" in uri or "\r" in uri:
                raise _Decline("namespace URI with references or odd whitespace")
            lower = uri.lower()
            if (prefix is None and lower == RSS090_NS) or lower in (RSS10_NS, ATOM_NS.lower()):
                versions.append(lower)
            if "backend.userland.com/rss" in lower:
                uri = lower = "http://backend.userland.com/rss"
            key = (prefix or "").lower()
            if by_prefix.setdefault(key, uri) != uri:
                raise _Decline("a prefix bound to two namespaces")
            known = _KNOWN_NS.get(lower)
            if known is None:
                if key in _KNOWN_PREFIXES:
                    raise _Decline("a feedparser prefix bound to another namespace")
                prefixes.setdefault(uri, set()).add(key)
            elif prefix is not None and prefix in _KNOWN_PREFIXES and prefix != known.lower():
                # feedparser would rename that prefix's elements (its namespacemap)
                raise _Decline("a feedparser prefix declared for another known namespace")
        # feedparser names an unknown namespace's elements by its first non-empty prefix, else not at all
        self.unknown: dict[str, str] = {}
        for uri, keys in prefixes.items():
            named = keys - {""}
            if len(named) > 1 or (named and "" in keys):
                raise _Decline("a namespace under two prefixes")
            self.unknown[uri] = named.pop() if named else ""
        self.versions = versions

    def name(self, tag: str) -> str:
        """feedparser's name for an element (dc:date -> dc_date, {Atom}entry -> entry)."""
        name = self.names.get(tag)
        if name is None:
            if tag[0] == "{":
                uri, local = tag[1:].split("}", 1)
            else:
                uri, local = "", tag
            lower = uri.lower()
            if "backend.userland.com/rss" in lower:
                uri = lower = "http://backend.userland.com/rss"
            prefix = _KNOWN_NS.get(lower)
            if prefix is None:
                if uri not in self.unknown:
                    raise _Decline("namespace not found among the declarations")
                prefix = self.unknown[uri]
            name = self.names[tag] = (prefix + "_" + local if prefix else local).lower()
        return name

    def entries(self) -> list[dict]:
        root, name = self.root, self.name
        tag = root.tag
        if not isinstance(tag, str):
            raise _Decline("no root element")
        if tag == "rss":
            versions = [v for k, v in root.attrib.items() if k.lower() == "version"]
            if versions != ["2.0"]:
                raise _Decline("not RSS 2.0")
            channels = [c for c in root if isinstance(c.tag, str)]
            if len(channels) != 1 or name(channels[0].tag) != "channel":
                raise _Decline("not one channel")
            container, atom, rdf = channels[0], False, False
        elif tag == "{%s}feed" % ATOM_NS:
            if any(v != ATOM_NS.lower() for v in self.versions):
                raise _Decline("Atom with RSS 1.0/0.90 namespaces")
            container, atom, rdf = root, True, False
        elif tag == "{%s}RDF" % RDF_NS:
            if not self.versions or any(v != RSS10_NS for v in self.versions):
                raise _Decline("RDF that is not plainly RSS 1.0")
            container, atom, rdf = root, False, True
        else:
            raise _Decline("not RSS 2.0, RSS 1.0 or Atom 1.0")
        items = [c for c in container if isinstance(c.tag, str) and name(c.tag) in ("item", "entry")]
        # feedparser starts an entry at any item/entry element, wherever it is
        if sum(1 for el in root.iter(*_ENTRY_CANDIDATES) if name(el.tag) in ("item", "entry")) != len(items):
            raise _Decline("entries outside the channel/feed")
        return [self.entry(item, atom, rdf) for item in items]

    def attrs(self, el: lxml.etree._Element, allowed: frozenset[str], about: bool = False) -> dict[str, str]:
        """An element's attributes as feedparser's strict parser hands them to its handlers."""
        items = el.items()
        if not items:
            return {}
        out: dict[str, str] = {}
        for key, value in items:
            if key[0] == "{":
                if about and key == _RDF_ABOUT:
                    out["rdf:about"] = value
                elif key != _XML_LANG:
                    raise _Decline("namespaced attribute")
                continue
            key = key.lower()
            if key not in allowed or key in out:
                raise _Decline("attribute not modelled")
            out[key] = value.lower() if key in ("rel", "type") else value
        return out

    def finish(self, text: str | None, element: str, ctype: str | None = None, atom: bool = False, guidislink: bool = False) -> str:
        """The value _FeedParserMixin.pop stores for an element with this text."""
        value = (text or "").strip()
        if value and (element == "link" or (element == "id" and guidislink)):
            value = self.join(value)
        if ctype is not None:
            if ctype == "text/plain" and not atom and ("<" in value or "&" in value) and _looks_like_html(value):
                ctype = "text/html"
            if ctype in _HTML_TYPES:
                if ("<" in value or "&" in value) and (self.c1 or not _plain_markup(value)):
                    value = resolve_relative_uris(value, self.base, "utf-8", ctype)
                    value = _sanitize_html(value, "utf-8", ctype)
                elif "\r" in value:
                    value = value.replace("\r\n", "\n")
        return _unmangle(value, self.c1)

    def check_subtree(self, nodes, allowed: set[str], leaves: set[str]) -> None:
        for node in nodes:
            name = self.name(node.tag)
            if name in allowed:
                if name in leaves and len(node):
                    raise _Decline(f"<{name}> with child elements")
            elif name in _RESERVED or _has_handler(name):
                raise _Decline(f"<{name}> not modelled")

    def entry(self, item: lxml.etree._Element, atom: bool, rdf: bool) -> dict:
        """The keys of feedparser's entry that parse_feed reads, built element by element in document order."""
        entry: dict = {}
        about = self.attrs(item, _NO_ATTRS, about=rdf).get("rdf:about")
        if about:
            entry["id"] = about
        seen: set[str] = set()
        for child in item:
            tag = child.tag
            if not isinstance(tag, str):
                continue  # comments and processing instructions
            name = self.name(tag)
            field = _FIELDS.get(name)
            if field is None:
                if name == "source":
                    self.check_subtree(child.iterdescendants(lxml.etree.Element), _IN_SOURCE, _SOURCE_LEAVES)
                else:
                    self.check_subtree(child.iter(lxml.etree.Element), _HARMLESS, _LEAVES)
                continue
            if len(child):
                raise _Decline(f"<{name}> with child elements")
            kind, key, default = field
            attrs = self.attrs(child, _FIELD_ATTRS[kind])
            if kind == "date":
                entry[key] = _parse_date(self.finish(child.text, key))
            elif kind == "text":
                if key in seen:
                    raise _Decline(f"second {key}")
                seen.add(key)
                ctype = _CONTENT_TYPES.get(attrs.get("type", default))
                if ctype is None:
                    raise _Decline("content type not modelled")
                value = self.finish(child.text, key, ctype, atom)
                if key == "content":
                    entry["content"] = [{"value": value}]
                    entry.setdefault("summary", value)
                else:
                    entry[key] = value
            elif kind == "link":
                if "href" in attrs:
                    rel = attrs.get("rel", "alternate")
                    ctype = attrs.get("type", "application/atom+xml" if rel == "self" else "text/html")
                    if rel == "alternate" and _FeedParserMixin.map_content_type(ctype) in _HTML_TYPES:
                        entry["link"] = self.join(attrs["href"])
                else:
                    value = self.finish(child.text, "link")
                    if "&" in value:
                        value = _LINK_ENTITY.sub(r"&\g<1>", value.replace("&amp;", "&"))
                    entry["link"] = value
            else:  # guid, id
                if "id" in seen:
                    raise _Decline("second id")
                seen.add("id")
                guidislink = attrs.get("ispermalink", "true") == "true"
                value = entry["id"] = self.finish(child.text, "id", guidislink=guidislink)
                if guidislink:
                    entry.setdefault("link", value)
        return entry


# feedparser's W3DTF and RFC 822 readers depend on nothing but the string (others read the clock)
_PURE_DATE_HANDLERS = {_parse_date_w3dtf, _parse_date_rfc822}
_dates: dict[str, tuple] = {}


def _parse_date(value: str):
    """feedparser.datetimes._parse_date, remembering what its clock-free readers return."""
    if not value:
        return None
    known = _dates.get(value)
    if known is not None:
        return known
    pure = True
    for handler in feedparser_dates._date_handlers:  # the loop of _parse_date itself
        pure = pure and handler in _PURE_DATE_HANDLERS
        try:
            parsed = handler(value)
        except (KeyError, OverflowError, ValueError, AttributeError):
            continue
        if not parsed or len(parsed) != 9:
            continue
        if pure:
            if len(_dates) >= 4096:
                _dates.clear()
            _dates[value] = parsed
        return parsed
    return None


_handlers: dict[str, bool] = {}


def _has_handler(name: str) -> bool:
    known = _handlers.get(name)
    if known is None:
        parser = feedparser.api.StrictFeedParser
        known = hasattr(parser, "_start_" + name) or hasattr(parser, "_end_" + name)
        if len(_handlers) < 10_000:
            _handlers[name] = known
    return known


def needs_fulltext(doc: RawDocument) -> bool:
    return len(doc.text.split()) < FULLTEXT_MIN_WORDS


@dataclass
class Page:
    title: str
    text: str
    canonical_url: str
    published: datetime | None


def extract_page(html: str | bytes, url: str) -> Page:
    """The article on a page: title, main text (no menus, sidebars or footers), canonical URL, date."""
    import trafilatura  # only sources that fetch pages need it (~10 MB)

    text = ""
    title = ""
    published = None
    doc = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        favor_precision=True,
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    if doc is not None:
        text = _tidy(doc.text or "")
        title = doc.title or ""
        if doc.date:
            try:
                published = datetime.fromisoformat(doc.date).replace(tzinfo=timezone.utc)
            except ValueError:
                published = None
    canonical = ""
    try:
        tree = lxml.html.fromstring(html if isinstance(html, bytes) else html.encode("utf-8"))
        links = tree.xpath('//link[@rel="canonical"]/@href')
        if links:
            canonical = str(links[0]).strip()
        if not title:
            og = tree.xpath('//meta[@property="og:title"]/@content') or tree.xpath("//title/text()")
            title = str(og[0]).strip() if og else ""
    except (lxml.etree.ParserError, ValueError):
        pass
    return Page(title=" ".join(title.split()), text=text, canonical_url=canonical, published=published)
