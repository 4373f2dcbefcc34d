"""Benchmark (not a test): matching speed against 10, 1,000 and 10,000 watches.

    .venv/bin/python tests/bench/bench_match.py

Articles are the fixture outlets' pages (Romanian and English); watches mix real
ones with generated names, phrases, boolean queries, NEAR and exclusions. Prints
articles per second for each watchlist size and the ratio to the smallest.

Then the feed items of benchmarks/bench_ingest.py (~120 words each) against its 300
watches ("summit", "guvernul AND bugetul" and rare names such as "Nume12x7"), and
against the rare names alone, where nearly every article matches nothing: microseconds
per article, on a first pass (cold caches) and once warm.
"""

from __future__ import annotations

import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from monitor.extract import extract_page  # noqa: E402
from monitor.match import Watchlist, compile_watch  # noqa: E402

REAL = [
    compile_watch("csto", terms=["CSTO", "OTSC", "Collective Security Treaty Organization", "Organizația Tratatului de Securitate Colectivă"]),
    compile_watch("icc", query='(ICC OR "International Criminal Court" OR "Curtea Penală Internațională") AND (warrant OR "mandat de arestare")', exclude=["cricket"]),
    compile_watch("near", query="Putin NEAR/5 (Japarov OR Tokayev)"),
    compile_watch("brasov", query="title:Brașov OR text:=Brașov"),
    compile_watch("ro-only", terms=["Kârgâzstan"], languages=["ro"]),
]


def articles() -> list[tuple[str, str, str]]:
    out = []
    for page in sorted((ROOT / "tests" / "fixtures" / "outlets").rglob("*.html")):
        if "index" in page.name:
            continue
        got = extract_page(page.read_bytes(), "http://127.0.0.1/" + page.name)
        lang = "en" if any(p in str(page) for p in ("wire-en", "nou")) else "ro"
        if got.text:
            out.append((got.title, got.text, lang))
    return out


def watches(n: int, rng: random.Random) -> list:
    names = [f"{rng.choice(['Popescu', 'Ionescu', 'Smith', 'Novak', 'Kowalski'])}{i}" for i in range(n * 3)]
    common = "guvern ministru alegeri summit parlament buget energie war court election minister".split()
    out = list(REAL[: min(n, len(REAL))])
    i = 0
    while len(out) < n:
        kind = i % 5
        a, b = rng.sample(names, 2)
        c = rng.choice(common)
        if kind == 0:
            out.append(compile_watch(f"w{i}", terms=[a, f"{b} {c}"]))
        elif kind == 1:
            out.append(compile_watch(f"w{i}", query=f'"{a}" AND ({c} OR {b})'))
        elif kind == 2:
            out.append(compile_watch(f"w{i}", query=f"{a} NEAR/4 {c}"))
        elif kind == 3:
            out.append(compile_watch(f"w{i}", query=f"{c} {a} NOT {b}", exclude=[b]))
        else:
            out.append(compile_watch(f"w{i}", query=f"title:{a} OR text:\"{c} {b}\"", languages=["ro"]))
        i += 1
    return out


def measure(watchlist: Watchlist, docs: list[tuple[str, str, str]], rounds: int) -> float:
    for title, text, lang in docs:  # warm caches (lemmas), as a running daemon has them
        watchlist.match(title, text, lang)
    start = time.perf_counter()
    for _ in range(rounds):
        for title, text, lang in docs:
            watchlist.match(title, text, lang)
    return rounds * len(docs) / (time.perf_counter() - start)


def feed_items(n_feeds: int = 200, n_items: int = 50) -> list[tuple[str, str, str]]:
    from benchmarks.bench_ingest import make_feeds

    out = []
    for f, body in enumerate(make_feeds(n_feeds, n_items).values()):
        lang = "ro" if f % 2 == 0 else "en"  # as bench_ingest's sources
        for title, text in re.findall(r"<title>(.*?)</title>.*?<description>(.*?)</description>", body.decode()):
            out.append((title, text, lang))
    return out


def feed_watches(n_feeds: int = 200, n_watches: int = 300) -> list:
    """The watches benchmarks/bench_ingest.py's write_config builds."""
    rng = random.Random(2)
    out = [compile_watch("w0", terms=["summit"]), compile_watch("w1", query="guvernul AND bugetul")]
    while len(out) < n_watches:
        out.append(compile_watch(f"w{len(out)}", terms=[f"Nume{rng.randint(0, n_feeds)}x{rng.randint(0, 60)}"]))
    return out


def per_article(watchlist: Watchlist, docs: list[tuple[str, str, str]]) -> tuple[float, int]:
    """Microseconds per article over one pass, and the number of matches."""
    found = 0
    start = time.perf_counter()
    for title, text, lang in docs:
        found += len(watchlist.match(title, text, lang, "bench"))
    return (time.perf_counter() - start) / len(docs) * 1e6, found


def main() -> None:
    rng = random.Random(7)
    docs = articles()
    words = sum(len(t.split()) + len(x.split()) for t, x, _ in docs) / len(docs)
    print(f"{len(docs)} articles, {words:.0f} words on average")
    base = None
    for n in (10, 1_000, 10_000):
        t0 = time.perf_counter()
        wl = Watchlist(watches(n, rng))
        built = time.perf_counter() - t0
        rate = max(measure(wl, docs, rounds=20) for _ in range(3))
        base = base or rate
        print(f"{n:>6} watches: {rate:8.0f} articles/s, {1e6 / rate:6.1f} us/article  (build {built:5.2f} s; {base / rate:4.2f}x the time per article of 10 watches)")

    items = feed_items()
    words = sum(len(t.split()) + len(x.split()) for t, x, _ in items) / len(items)
    print(f"{len(items)} feed items (benchmarks/bench_ingest.py), {words:.0f} words on average")
    every = feed_watches()
    for label, chosen in (("300 watches as bench_ingest", every), ("its 298 rare names alone", every[2:])):
        wl = Watchlist(chosen)
        cold, found = per_article(wl, items)
        warm = min(per_article(wl, items)[0] for _ in range(3))
        print(f"  {label:28}: {warm:6.1f} us/article warm, {cold:6.1f} first pass; {found / len(items):.2f} matches/article")


if __name__ == "__main__":
    main()
