"""Benchmark (not a test): a first pass over many feeds, and re-polls of unchanged feeds.

    .venv/bin/python benchmarks/bench_ingest.py [--feeds 200] [--items 50] [--rounds 2]

A local server serves N RSS feeds x M items (Romanian and English titles, ~120-word
descriptions) with ETags. It times `monitor run --once` on a fresh database (full
first pass), then a second pass (the server answers 304), then a pass against a
server that ignores conditional requests (same bytes again). If the `reader` library
is installed (`pip install reader`), it times reader adding the same feeds to a fresh
database and running update_feeds(workers=4), for comparison. Prints entries/s.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import subprocess
import sys
import tempfile
import threading
import time
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
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
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

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def write_config(directory: Path, server: Server, n_feeds: int, n_watches: int = 300) -> Path:
    rng = random.Random(2)
    watches = [{"name": "w0", "terms": ["summit"]}, {"name": "w1", "query": "guvernul AND bugetul"}]
    while len(watches) < n_watches:
        i = len(watches)
        watches.append({"name": f"w{i}", "terms": [f"Nume{rng.randint(0, n_feeds)}x{rng.randint(0, 60)}"]})
    config = {
        "database": f"sqlite:///{directory / 'bench.db'}",
        # every feed is on one loopback host here: lift the per-host politeness limit a real deployment keeps
        "defaults": {"interval": "1h", "timeout": "30s", "per_host": 16, "host_delay": "0s"},
        "sources": [
            {"name": f"f{f}", "kind": "rss", "url": f"{server.base}/feed/{f}.xml", "language": "ro" if f % 2 == 0 else "en", "fulltext": False}
            for f in range(n_feeds)
        ],
        "watches": watches,
    }
    path = directory / "bench.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def timed_once(config: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "monitor", "run", "--once", "--config", str(config)], check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - t0


def timed_reader(server: Server, n_feeds: int, directory: Path) -> float | None:
    try:
        from reader import make_reader
    except ImportError:
        return None
    t0 = time.perf_counter()
    r = make_reader(str(directory / "reader.sqlite"))
    for f in range(n_feeds):
        r.add_feed(f"{server.base}/feed/{f}.xml")
    r.update_feeds(workers=4)
    r.close()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--items", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    entries = args.feeds * args.items
    server = Server(make_feeds(args.feeds, args.items))
    for round_ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp)
            config = write_config(d, server, args.feeds)
            server.conditional = True
            first = timed_once(config)
            again = timed_once(config)
            server.conditional = False
            same_bytes = timed_once(config)
            print(f"round {round_ + 1}: monitor first pass {entries / first:7.0f} entries/s ({first:.1f} s); "
                  f"re-poll with 304: {again / args.feeds * 1000:.1f} ms/feed; same bytes again: {same_bytes / args.feeds * 1000:.1f} ms/feed "
                  "(wall time incl. process start)")
            rd = timed_reader(server, args.feeds, d)
            if rd is None:
                print("  reader not installed (pip install reader) - no comparison")
            else:
                print(f"  reader first pass {entries / rd:7.0f} entries/s ({rd:.1f} s); ratio monitor/reader {rd / first:.2f}x")


if __name__ == "__main__":
    main()
