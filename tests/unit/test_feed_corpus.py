"""Every file of feedparser's own test corpus goes through parse_feed without raising.

The corpus lives outside the repository, in /work/shared/corpora/feedparser-tests/tests
(../shared/... from the repository root). parse_feed is given bytes, so nothing is fetched
even where a file refers to external hosts.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from monitor.extract import FeedResult, parse_feed
from monitor.types import RawDocument

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpora" / "feedparser-tests" / "tests"


def test_corpus_location():
    assert CORPUS.is_dir(), f"feed corpus not found at {CORPUS}"


def test_every_corpus_file_parses_without_raising():
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file())
    assert len(files) > 2000, f"only {len(files)} corpus files under {CORPUS}"

    failures: list[str] = []
    readable = with_documents = errors = 0
    for path in files:
        name = str(path.relative_to(CORPUS))
        try:
            result = parse_feed(path.read_bytes(), "http://127.0.0.1/feed", "corpus", "en")
        except Exception as exc:  # noqa: BLE001 - the point is that nothing escapes
            failures.append(f"{name}: raised {type(exc).__name__}: {exc}")
            continue
        if not isinstance(result, FeedResult):
            failures.append(f"{name}: returned {type(result).__name__}")
            continue
        if result.error is not None:
            errors += 1
            if not isinstance(result.error, str) or not result.error:
                failures.append(f"{name}: error is {result.error!r}")
            if result.documents:
                failures.append(f"{name}: both an error and {len(result.documents)} documents")
            continue
        readable += 1
        if result.warning is not None and not isinstance(result.warning, str):
            failures.append(f"{name}: warning is {result.warning!r}")
        if result.documents:
            with_documents += 1
        for doc in result.documents:
            problems = []
            if not isinstance(doc, RawDocument):
                problems.append(f"not a RawDocument: {doc!r}")
            elif not doc.url or not urlsplit(doc.url).scheme:
                problems.append(f"url {doc.url!r} is not absolute")
            elif (doc.source, doc.language) != ("corpus", "en"):
                problems.append("source/language not passed through")
            elif not all(isinstance(v, str) for v in (doc.title, doc.text, doc.summary, doc.guid)):
                problems.append("a text field is not a str")
            elif doc.published is not None and (not isinstance(doc.published, datetime) or doc.published.utcoffset() is None):
                problems.append(f"published {doc.published!r} is not an aware datetime")
            failures += [f"{name}: {p}" for p in problems]

    assert failures == [], f"{len(failures)} corpus files failed:\n" + "\n".join(failures[:50])
    # The corpus is mostly valid feeds, each testing one element; most of their entries have no
    # link (parse_feed skips those), so far fewer files yield documents than are readable.
    assert readable >= 1900, f"only {readable} of {len(files)} files were read as feeds"
    assert errors <= 100, f"{errors} files reported as unreadable"
    assert with_documents >= 80, f"only {with_documents} files yielded documents"
