"""Benchmark (not a test): first pass, re-polls, memory and a large store, with `reader` alongside.

    .venv/bin/python benchmarks/bench_ingest.py [--feeds 200] [--items 50] [--rounds 3]
        [--memory-sources 1000] [--large 500000] [--daemon-seconds 30] [--only first,floor,repoll,memory,large]

A local server (a thread of this process) serves N RSS feeds x M items (Romanian and
English titles, ~120-word descriptions) with ETags. Every command under test runs as
its own process, so each figure includes interpreter start and imports, the same
for both programs.

- first: `monitor run --once` on a fresh database (fulltext: false, 300 watches) and the
  `reader` library (`make_reader`, `add_feed` x N, `update_feeds(workers=4)`) on a fresh
  database, alternating, `--rounds` times; entries/s of each and the ratio.
- repoll: the same command again on the filled database, first with the server
  answering 304, then with a server that ignores conditional requests and sends the
  same bytes. CPU per feed is the extra CPU of the N-feed pass over a 1-feed pass,
  divided by N-1: what one more unchanged feed costs, process start excluded. The same
  requests made by a Scrapy spider that does nothing with the answers give the cost of
  the HTTP exchange alone; the difference is what the monitor adds.
  Then the same in steady state: the daemon (`monitor run`, every source every 5 s, all
  answered 304) for --daemon-seconds, CPU per fetch from /proc; against a long-running bare
  Scrapy spider sending the same conditional requests at the same rate.
- memory: `monitor run` (the daemon) with --memory-sources feeds polled every 20 s;
  peak resident memory (VmHWM) after every feed was fetched 3 times.
- large: the first pass on a database that already holds --large articles (spread
  over four months, grouped in stories) against the same pass on an empty one.
- floor: what the same feeds cost programs that do far less than the monitor, against a
  fifth of reader's time (the budget of a pass 5x faster than reader): the fixed stack's
  imports alone (scrapy, sqlmodel, apscheduler, apprise, feedparser, numpy, lxml), a
  Scrapy spider that fetches every feed and discards it, and the leanest ingest there is
  (http.client in 4 threads, lxml, one sqlite3 executemany: no text work, no stories, no
  matching, no Scrapy).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORDS_RO = "guvernul ministrul președintele parlamentul bugetul anunțat miercuri companiile românești energie acord summit securitate".split()
WORDS_EN = "government minister president parliament budget announced wednesday companies energy agreement summit security".split()


def make_feeds(n_feeds: int, n_items: int, seed: int = 1) -> dict[str, bytes]:
    rng = random.Random(seed)
    feeds = {}
    for f in range(n_feeds):
        words = WORDS_RO if f % 2 == 0 else WORDS_EN
        items = []
        for i in range(n_items):
            name = f"Nume{f}x{i}"
            desc = " ".join(rng.choice(words) for _ in range(110)) + f" {name} {rng.randint(100, 99999)}."
            items.append(
                f"<item><title>{name} {' '.join(rng.sample(words, 6))}</title>"
                f"<link>http://127.0.0.1/a/{f}/{i}</link><guid>g-{f}-{i}</guid>"
                f"<pubDate>Wed, 26 Nov 2025 {i % 24:02d}:00:00 GMT</pubDate><description>{desc}</description></item>"
            )
        feeds[f"/feed/{f}.xml"] = (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Feed '
            + str(f)
            + "</title>"
            + "".join(items)
            + "</channel></rss>"
        ).encode()
    return feeds


class Server:
    def __init__(self, feeds: dict[str, bytes]):
        self.feeds = feeds
        self.conditional = True
        self.hits: Counter = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self) -> None:  # noqa: N802
                server.hits[self.path] += 1
                body = server.feeds.get(self.path)
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                etag = '"' + hashlib.sha1(body).hexdigest() + '"'
                if server.conditional and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                if server.conditional:
                    self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

        class Listener(ThreadingHTTPServer):
            request_queue_size = 1024  # the default backlog of 5 drops connections, and clients wait a second to retry
            daemon_threads = True

        self.httpd = Listener(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def watches(n_feeds: int, n_watches: int = 300) -> list[dict]:
    rng = random.Random(2)
    out = [{"name": "w0", "terms": ["summit"]}, {"name": "w1", "query": "guvernul AND bugetul"}]
    while len(out) < n_watches:
        out.append({"name": f"w{len(out)}", "terms": [f"Nume{rng.randint(0, n_feeds)}x{rng.randint(0, 60)}"]})
    return out


def write_config(directory: Path, server: Server, feeds: range, database: Path, interval: str = "1h") -> Path:
    config = {
        "database": f"sqlite:///{database}",
        # every feed is on one loopback host here: lift the per-host politeness limit a real deployment keeps
        "defaults": {"interval": interval, "timeout": "30s", "per_host": 64, "host_delay": "0s"},
        "sources": [
            {
                "name": f"f{f}", "kind": "rss", "url": f"{server.base}/feed/{f}.xml", "language": "ro" if f % 2 == 0 else "en",
                "fulltext": False, "max_interval": interval,
            }
            for f in feeds
        ],
        "watches": watches(len(feeds)),
    }
    path = directory / f"bench-{len(feeds)}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def run_child(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of a command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, cwd=ROOT, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv[:4])} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def monitor_once(config: Path) -> tuple[float, float]:
    return run_child([sys.executable, "-m", "monitor", "run", "--once", "--config", str(config)])


READER = """
import sys
from reader import make_reader
r = make_reader(sys.argv[1])
for url in sys.argv[2:]:
    r.add_feed(url)
r.update_feeds(workers=4)
assert r.get_entry_counts().total == {total}, r.get_entry_counts()
r.close()
"""


def reader_once(server: Server, n_feeds: int, n_items: int, database: Path) -> float | None:
    try:
        import reader  # noqa: F401
    except ImportError:
        return None
    urls = [f"{server.base}/feed/{f}.xml" for f in range(n_feeds)]
    return run_child([sys.executable, "-c", READER.format(total=n_feeds * n_items), str(database), *urls])[0]


def bench_first(server: Server, args: argparse.Namespace, tmp: Path) -> None:
    entries = args.feeds * args.items
    ours, theirs = [], []
    for round_ in range(args.rounds):
        d = Path(tempfile.mkdtemp(dir=tmp))
        server.conditional = True
        wall, _ = monitor_once(write_config(d, server, range(args.feeds), d / "monitor.db"))
        ours.append(entries / wall)
        rd = reader_once(server, args.feeds, args.items, d / "reader.sqlite")
        line = f"round {round_ + 1}: monitor run --once {entries / wall:7.0f} entries/s ({wall:.2f} s)"
        if rd is not None:
            theirs.append(entries / rd)
            line += f"; reader {entries / rd:7.0f} entries/s ({rd:.2f} s); ratio {rd / wall:.2f}x"
        print(line, flush=True)
        shutil.rmtree(d)
    summary = f"first pass, {args.feeds} feeds x {args.items} items, median of {args.rounds}: monitor {statistics.median(ours):.0f} entries/s"
    if theirs:
        summary += f", reader {statistics.median(theirs):.0f} entries/s, ratio {statistics.median(ours) / statistics.median(theirs):.2f}x"
    else:
        summary += " (reader not installed: no comparison)"
    print(summary, flush=True)


BARE_SCRAPY = """
import sys
import scrapy
from scrapy.crawler import CrawlerProcess

urls = [(u, e) for u, e in zip(sys.argv[1::2], sys.argv[2::2])]

class Bare(scrapy.Spider):
    name = "bare"
    custom_settings = {"LOG_LEVEL": "ERROR", "TELNETCONSOLE_ENABLED": False, "CONCURRENT_REQUESTS": 32,
                       "CONCURRENT_ITEMS": 1, "COOKIES_ENABLED": False, "ROBOTSTXT_OBEY": False}

    async def start(self):
        for url, etag in urls:
            yield scrapy.Request(url, headers={"If-None-Match": etag}, meta={"handle_httpstatus_list": [304]}, dont_filter=True)

    def parse(self, response):
        return None

process = CrawlerProcess()
process.crawl(Bare)
process.start()
"""


def bare_scrapy(server: Server, feeds: range) -> tuple[float, float]:
    """The same conditional GETs through a spider that does nothing with the answers: the HTTP exchange alone."""
    argv = []
    for f in feeds:
        body = server.feeds[f"/feed/{f}.xml"]
        argv += [f"{server.base}/feed/{f}.xml", '"' + hashlib.sha1(body).hexdigest() + '"']
    return run_child([sys.executable, "-c", BARE_SCRAPY, *argv])


def bench_repoll(server: Server, args: argparse.Namespace, tmp: Path) -> None:
    d = Path(tempfile.mkdtemp(dir=tmp))
    server.conditional = True
    many = write_config(d, server, range(args.feeds), d / "many.db")
    one = write_config(d, server, range(1), d / "one.db")
    monitor_once(many), monitor_once(one)  # fill both databases
    for label, conditional in (("304 Not Modified", True), ("same bytes, no validators", False)):
        server.conditional = conditional
        if not conditional:
            monitor_once(many), monitor_once(one)  # the first pass without ETags records the bodies' hashes
        walls, cpus = [], []
        for _ in range(args.rounds):
            w_many, c_many = monitor_once(many)
            w_one, c_one = monitor_once(one)
            walls.append((w_many - w_one) / (args.feeds - 1))
            cpus.append((c_many - c_one) / (args.feeds - 1))
        print(
            f"re-poll, {label}: {statistics.median(cpus) * 1000:.2f} ms CPU and {statistics.median(walls) * 1000:.2f} ms wall per extra feed "
            f"(whole {args.feeds}-feed pass: {w_many:.2f} s wall, {c_many:.2f} s CPU incl. process start)",
            flush=True,
        )
    for label, conditional in (("answered 304", True), ("same bytes, 200", False)):
        server.conditional = conditional
        bare = []
        for _ in range(args.rounds):
            (_, c_many), (_, c_one) = bare_scrapy(server, range(args.feeds)), bare_scrapy(server, range(1))
            bare.append((c_many - c_one) / (args.feeds - 1))
        print(f"the HTTP exchange alone (a Scrapy spider that ignores the answers), {label}: {statistics.median(bare) * 1000:.2f} ms CPU per extra feed", flush=True)
    server.conditional = True
    daemon_repoll(server, args, d)
    shutil.rmtree(d)


BARE_LOOP = """
import asyncio, json, os, sys, time
import scrapy
from scrapy.crawler import CrawlerProcess

urls, rate, skip, count = json.loads(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])

def cpu():
    t = os.times()
    return t.user + t.system

class Bare(scrapy.Spider):
    name = "bare"
    custom_settings = {"LOG_LEVEL": "ERROR", "TELNETCONSOLE_ENABLED": False, "CONCURRENT_REQUESTS": 32,
                       "CONCURRENT_ITEMS": 1, "COOKIES_ENABLED": False, "ROBOTSTXT_OBEY": False}

    async def start(self):
        sent, t0, c0 = 0, time.monotonic(), 0.0
        while True:
            due = int((time.monotonic() - t0) * rate)
            while sent < due:
                if sent == skip:
                    c0 = cpu()
                if sent == skip + count:
                    print(f"{(cpu() - c0) / count * 1000:.3f}", flush=True)
                    os._exit(0)
                url, etag = urls[sent % len(urls)]
                yield scrapy.Request(url, headers={"If-None-Match": etag}, meta={"handle_httpstatus_list": [304]}, dont_filter=True)
                sent += 1
            await asyncio.sleep(0.02)

    def parse(self, response):
        return None

process = CrawlerProcess()
process.crawl(Bare)
process.start()
"""


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def daemon_repoll(server: Server, args: argparse.Namespace, d: Path) -> None:
    """CPU per fetch of a running daemon whose feeds all answer 304, against a bare Scrapy spider at the same rate."""
    server.conditional = True
    config = write_config(d, server, range(args.feeds), d / "daemon.db", interval="5s")
    paths = [f"/feed/{f}.xml" for f in range(args.feeds)]
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "run", "--config", str(config)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        started = {p: server.hits[p] for p in paths}
        deadline = time.monotonic() + 600
        while min(server.hits[p] - started[p] for p in paths) < 2:  # the first pass stores; from the second on, 304s
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit("the daemon did not make two passes")
            time.sleep(0.1)
        time.sleep(1)
        c0, h0, t0 = _cpu_seconds(proc.pid), sum(server.hits[p] for p in paths), time.monotonic()
        time.sleep(args.daemon_seconds)
        c1, h1, t1 = _cpu_seconds(proc.pid), sum(server.hits[p] for p in paths), time.monotonic()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(120)
    fetches = max(h1 - h0, 1)
    ours = (c1 - c0) / fetches * 1000
    rate = fetches / (t1 - t0)
    urls = [(f"{server.base}{p}", '"' + hashlib.sha1(server.feeds[p]).hexdigest() + '"') for p in paths]
    done = subprocess.run([sys.executable, "-c", BARE_LOOP, json.dumps(urls), str(rate), str(len(paths)), str(fetches)],
                          capture_output=True, text=True, timeout=args.daemon_seconds * 3 + 120)
    if done.returncode != 0 or not done.stdout.strip():
        sys.exit(f"the bare Scrapy loop failed:\n{done.stderr[-3000:]}")
    bare = float(done.stdout.split()[-1])
    print(f"daemon re-poll, 304 Not Modified: {ours:.2f} ms CPU per feed per pass ({fetches} fetches in {t1 - t0:.0f} s); "
          f"a bare Scrapy spider sending the same requests at the same rate: {bare:.2f} ms; the monitor adds {ours - bare:.2f} ms", flush=True)


def _status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])  # kB
    return 0


def bench_memory(server: Server, args: argparse.Namespace, tmp: Path) -> None:
    d = Path(tempfile.mkdtemp(dir=tmp))
    n = args.memory_sources
    server.conditional = True
    config = write_config(d, server, range(n), d / "daemon.db", interval="20s")
    paths = [f"/feed/{f}.xml" for f in range(n)]
    before = {p: server.hits[p] for p in paths}
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "run", "--config", str(config)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.monotonic()
    try:
        samples = []
        for passes in (1, 2, 3):
            while min(server.hits[p] - before[p] for p in paths) < passes:
                if proc.poll() is not None:
                    sys.exit("the daemon stopped")
                if time.monotonic() - t0 > 900:
                    sys.exit("the daemon did not finish 3 passes in 15 minutes")
                time.sleep(0.5)
            samples.append((passes, time.monotonic() - t0, _status(proc.pid, "VmRSS"), _status(proc.pid, "VmHWM")))
        time.sleep(2)  # let the last pass's batch be stored
        peak = _status(proc.pid, "VmHWM")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(120)
    for passes, at, rss, hwm in samples:
        print(f"daemon, {n} sources: after pass {passes} ({at:.0f} s) resident {rss / 1024:.0f} MB, peak {hwm / 1024:.0f} MB", flush=True)
    print(f"daemon, {n} sources x {args.items} items: peak resident memory {peak / 1024:.0f} MB", flush=True)
    shutil.rmtree(d)


def fill_store(database: Path, n_articles: int) -> None:
    """A store as months of polling leave it: articles with text and story features, grouped in stories."""
    sys.path.insert(0, str(ROOT))
    from monitor.stories import features
    from monitor.store import Store, utc

    store = Store.from_url(f"sqlite:///{database}")
    rng = random.Random(3)
    templates = [
        (f"Titlu {i} " + " ".join(rng.sample(WORDS_RO, 5)), " ".join(rng.choice(WORDS_RO) for _ in range(120)) + f" Orasul{i} {rng.randint(10, 9999)}")
        for i in range(50)
    ]
    feats = [json.dumps(features(t, x, "ro").to_json()) for t, x in templates]
    now = datetime.now(timezone.utc)
    start = now - timedelta(days=124)  # older than any story window: the index does not load them
    per_story = 3
    batch = 20000
    from monitor.store import ArticleRow, StoryRow

    with store.engine.begin() as c:
        for lo in range(0, n_articles, batch):
            hi = min(n_articles, lo + batch)
            stories, articles = [], []
            for i in range(lo, hi):
                when = utc(start + timedelta(seconds=i * (120 * 86400 / n_articles)))
                t = i % len(templates)
                if i % per_story == 0:
                    stories.append({"id": i // per_story + 1, "title": templates[t][0], "first_seen": when, "last_seen": when})
                articles.append({
                    "id": i + 1, "url": f"https://old.example/{i}", "canonical_url": f"https://old.example/{i}", "guid": f"old-{i}",
                    "source": f"f{i % 1000}", "language": "ro", "title": templates[t][0], "text": templates[t][1] + f" {i}",
                    "published": when, "fetched": when, "fingerprint": hashlib.sha1(str(i).encode()).hexdigest(),
                    "story_id": i // per_story + 1, "features": feats[t],
                })
            if stories:
                c.execute(StoryRow.__table__.insert(), stories)
            c.execute(ArticleRow.__table__.insert(), articles)
    store.close()


def bench_large(server: Server, args: argparse.Namespace, tmp: Path) -> None:
    d = Path(tempfile.mkdtemp(dir=tmp))
    big = d / "big.db"
    t0 = time.perf_counter()
    fill_store(big, args.large)
    print(f"large store: {args.large} articles written in {time.perf_counter() - t0:.0f} s ({big.stat().st_size / 1e6:.0f} MB)", flush=True)
    empty_times, big_times = [], []
    server.conditional = True
    for _ in range(args.rounds):
        for target, times in ((None, empty_times), (big, big_times)):
            db = d / "run.db"
            for suffix in ("", "-wal", "-shm"):
                Path(str(db) + suffix).unlink(missing_ok=True)
            if target is not None:
                shutil.copy(target, db)
            wall, _ = monitor_once(write_config(d, server, range(args.feeds), db))
            times.append(wall)
    e, b = statistics.median(empty_times), statistics.median(big_times)
    print(f"large store: first pass over {args.feeds} feeds {e:.2f} s on an empty database, {b:.2f} s with {args.large} articles stored: {b / e:.2f}x", flush=True)
    shutil.rmtree(d)


STACK_IMPORTS = "import scrapy, sqlmodel, apscheduler, apprise, feedparser, numpy, lxml.html"

LEAN = """
import http.client, sqlite3, sys
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit
from lxml import etree

def get(url):
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.netloc)
    conn.request("GET", parts.path)
    body = conn.getresponse().read()
    conn.close()
    return body

def items(body):
    return [tuple(i.findtext(t) for t in ("guid", "link", "title", "description", "pubDate")) for i in etree.fromstring(body).iter("item")]

db = sqlite3.connect(sys.argv[1])
db.execute("CREATE TABLE entry (guid TEXT PRIMARY KEY, link TEXT, title TEXT, description TEXT, published TEXT)")
with ThreadPoolExecutor(4) as pool:
    rows = [row for body in pool.map(get, sys.argv[2:]) for row in items(body)]
db.executemany("INSERT INTO entry VALUES (?, ?, ?, ?, ?)", rows)
db.commit()
"""


def bench_floor(server: Server, args: argparse.Namespace, tmp: Path) -> None:
    urls = [f"{server.base}/feed/{f}.xml" for f in range(args.feeds)]
    server.conditional = False  # every program gets every feed in full
    runs: dict[str, list[float]] = {"reader": [], "imports": [], "scrapy": [], "lean": []}
    for _ in range(args.rounds):
        d = Path(tempfile.mkdtemp(dir=tmp))
        rd = reader_once(server, args.feeds, args.items, d / "reader.sqlite")
        if rd is None:
            print("floor: reader not installed, no budget to compare with", flush=True)
            return
        runs["reader"].append(rd)
        runs["imports"].append(run_child([sys.executable, "-c", STACK_IMPORTS])[0])
        runs["scrapy"].append(run_child([sys.executable, "-c", BARE_SCRAPY, *(x for u in urls for x in (u, '"none"'))])[0])
        runs["lean"].append(run_child([sys.executable, "-c", LEAN, str(d / "lean.sqlite"), *urls])[0])
        shutil.rmtree(d)
    server.conditional = True
    m = {k: statistics.median(v) for k, v in runs.items()}
    budget = m["reader"] / 5
    print(
        f"floor, {args.feeds} feeds x {args.items} items, median of {args.rounds}: reader {m['reader']:.2f} s, so a pass 5x faster "
        f"has {budget:.2f} s; the stack's imports alone {m['imports']:.2f} s ({m['imports'] / budget:.0%} of it); "
        f"a Scrapy spider that discards every feed {m['scrapy']:.2f} s ({m['scrapy'] / budget:.0%}); "
        f"http.client + lxml + sqlite3 and nothing else {m['lean']:.2f} s ({m['lean'] / budget:.0%})",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--items", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--memory-sources", type=int, default=1000)
    ap.add_argument("--large", type=int, default=500_000)
    ap.add_argument("--daemon-seconds", type=float, default=30.0)
    ap.add_argument("--only", default="first,floor,repoll,memory,large")
    args = ap.parse_args()
    wanted = set(args.only.split(","))
    n_feeds = max(args.feeds, args.memory_sources if "memory" in wanted else 0)
    server = Server(make_feeds(n_feeds, args.items))
    print(f"{os.cpu_count()} CPUs; python {sys.version.split()[0]}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, bench in (("first", bench_first), ("floor", bench_floor), ("repoll", bench_repoll), ("memory", bench_memory), ("large", bench_large)):
            if name in wanted:
                bench(server, args, Path(tmp))


if __name__ == "__main__":
    main()
