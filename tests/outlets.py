"""Loopback "fixture outlet server" for end-to-end tests.

Serves the fake news outlets under ``tests/fixtures/outlets/`` (feeds and
article pages) on ``127.0.0.1`` at a random port.  Every served file has the
ASCII placeholder ``{{BASE}}`` replaced by the server's base URL (on bytes, so
the windows-1250 feed stays intact).

Special routes:

* ``/broken/rss.xml`` -> HTTP 500
* ``/slow/rss.xml``   -> never answers; the handler blocks until ``stop()``
  (or 120 s) and then closes the connection without a response
* ``/moved/rss.xml``  -> 301 to ``{base}/nou/rss.xml``
* anything unknown    -> 404

Usage::

    with OutletServer() as srv:
        feed_url = srv.base + "/ro-stiri/rss.xml"
        ...
        assert srv.hits["/ro-stiri/rss.xml"] == 1

Run ``python tests/outlets.py`` to browse the outlets by hand.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import http.server
import re
import sys
import threading
import urllib.parse
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Any

FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures" / "outlets"
MANIFEST_PATH = FIXTURES_DIR / "MANIFEST.yaml"
PLACEHOLDER = b"{{BASE}}"

BROKEN_PATH = "/broken/rss.xml"
SLOW_PATH = "/slow/rss.xml"
MOVED_PATH = "/moved/rss.xml"
MOVED_TARGET = "/nou/rss.xml"

# Fixed, deterministic Last-Modified for every fixture file (the files are
# static; a date before the first article keeps If-Modified-Since simple).
LAST_MODIFIED_TS = 1764028800  # Tue, 25 Nov 2025 00:00:00 GMT
LAST_MODIFIED = formatdate(LAST_MODIFIED_TS, usegmt=True)

_XML_ENCODING_RE = re.compile(rb"""<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def substitute_base(value: Any, base: str) -> Any:
    """Recursively replace ``{{BASE}}`` in strings (e.g. in the loaded MANIFEST)."""
    if isinstance(value, str):
        return value.replace("{{BASE}}", base)
    if isinstance(value, list):
        return [substitute_base(v, base) for v in value]
    if isinstance(value, dict):
        return {k: substitute_base(v, base) for k, v in value.items()}
    return value


def load_manifest(base: str = "{{BASE}}") -> dict:
    """MANIFEST.yaml as a dict, with ``{{BASE}}`` replaced by ``base``."""
    import yaml  # local import: only needed by data-driven tests

    data = yaml.safe_load(MANIFEST_PATH.read_text(encoding="utf-8"))
    return substitute_base(data, base)


def content_type_for(path: Path, body: bytes) -> str:
    name = path.name.lower()
    suffix = path.suffix.lower()
    if name == "robots.txt" or suffix in (".txt", ".yaml", ".yml"):
        return "text/plain; charset=utf-8"
    if suffix == ".xml":
        head = body[:2048]
        mime = "application/atom+xml" if b"<feed" in head else "application/rss+xml"
        m = _XML_ENCODING_RE.search(head)
        declared = m.group(1).decode("ascii").lower() if m else "utf-8"
        if declared.replace("_", "-") in ("utf-8", "utf8"):
            return mime + "; charset=utf-8"
        # e.g. windows-1250: no charset parameter, the XML prolog decides.
        return mime
    if suffix in (".html", ".htm", ""):
        return "text/html; charset=utf-8"
    if suffix == ".json":
        return "application/json"
    return "application/octet-stream"


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "FixtureOutlet/1.0"
    sys_version = ""
    server: "_HTTPServer"

    # -- plumbing ---------------------------------------------------------
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # silent: no stderr line per request

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch(send_body=False)

    def _send(self, status: int, body: bytes = b"", content_type: str | None = None,
              headers: dict[str, str] | None = None, send_body: bool = True) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if send_body and body:
            self.wfile.write(body)
        self.close_connection = True

    # -- routing ----------------------------------------------------------
    def _dispatch(self, send_body: bool) -> None:
        outlet = self.server.outlet
        outlet._record(self.command, self.path, self.headers)
        path = urllib.parse.urlsplit(self.path).path or "/"

        override = outlet._get_override(path)
        if override is not None:
            status, body, ctype, extra = override
            body = body.replace(PLACEHOLDER, outlet.base.encode("ascii"))
            self._send(status, body, ctype, extra, send_body)
            return

        if path == BROKEN_PATH:
            self._send(500, b"Internal Server Error: the feed generator crashed.\n",
                       "text/plain; charset=utf-8", send_body=send_body)
            return
        if path == SLOW_PATH:
            # Never answer: wait until stop() (or the safety timeout), then
            # drop the connection without writing a status line.
            outlet._release.wait(outlet.slow_timeout)
            self.close_connection = True
            return
        if path == MOVED_PATH:
            self._send(301, b"Moved Permanently\n", "text/plain; charset=utf-8",
                       {"Location": outlet.base + MOVED_TARGET}, send_body)
            return

        resolved = self._resolve(path)
        if resolved is None:
            self._send(404, b"Not Found\n", "text/plain; charset=utf-8", send_body=send_body)
            return
        if isinstance(resolved, str):  # directory without trailing slash
            self._send(301, b"Moved Permanently\n", "text/plain; charset=utf-8",
                       {"Location": outlet.base + resolved}, send_body)
            return

        body = resolved.read_bytes().replace(PLACEHOLDER, outlet.base.encode("ascii"))
        etag = '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
        headers = {"ETag": etag, "Last-Modified": LAST_MODIFIED}
        if outlet.conditional and self._not_modified(etag):
            self.send_response(304)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            return
        self._send(200, body, content_type_for(resolved, body), headers, send_body)

    def _not_modified(self, etag: str) -> bool:
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            tags = [t.strip() for t in inm.split(",")]
            return "*" in tags or etag in tags or ("W/" + etag) in tags
        ims = self.headers.get("If-Modified-Since")
        if ims:
            try:
                return parsedate_to_datetime(ims).timestamp() >= LAST_MODIFIED_TS
            except (TypeError, ValueError, IndexError, OverflowError):
                return False
        return False

    def _resolve(self, url_path: str) -> Path | str | None:
        """Map a URL path to a fixture file, a redirect target (str) or None."""
        root = self.server.outlet.root
        decoded = urllib.parse.unquote(url_path)
        parts = [p for p in decoded.split("/") if p]
        if any(p in (".", "..") or "\\" in p or "\x00" in p for p in parts):
            return None
        candidate = root.joinpath(*parts) if parts else root
        try:
            candidate.resolve().relative_to(root.resolve())
        except ValueError:
            return None
        if candidate.is_dir():
            if not decoded.endswith("/"):
                return url_path + "/"
            index = candidate / "index.html"
            return index if index.is_file() else None
        if candidate.is_file():
            return candidate
        if parts and not decoded.endswith("/"):
            html = candidate.with_name(candidate.name + ".html")
            if html.is_file():
                return html
        return None


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for blocked /slow handlers
    outlet: "OutletServer"


class OutletServer:
    """Threaded loopback HTTP server for the fixture outlets.

    Attributes:
        base: ``"http://127.0.0.1:PORT"`` (no trailing slash), set by ``start()``.
        hits: ``collections.Counter`` of request paths (with query string).
        requests: list of ``(method, path, headers_dict)`` in arrival order.
    """

    def __init__(self, root: Path | str = FIXTURES_DIR, *, host: str = "127.0.0.1",
                 port: int = 0, slow_timeout: float = 120.0, conditional: bool = True) -> None:
        self.root = Path(root).resolve()
        self.host = host
        self.port = port
        self.slow_timeout = slow_timeout
        self.conditional = conditional  # honour If-None-Match / If-Modified-Since
        self.base = ""
        self.hits: collections.Counter[str] = collections.Counter()
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._lock = threading.Lock()
        self._overrides: dict[str, tuple[int, bytes, str | None, dict[str, str]]] = {}
        self._release = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------
    def start(self) -> "OutletServer":
        if self._httpd is not None:
            return self
        self._release = threading.Event()
        httpd = _HTTPServer((self.host, self.port), _Handler)
        httpd.outlet = self
        self._httpd = httpd
        host, port = httpd.server_address[:2]
        self.base = f"http://{host}:{port}"
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"outlet-server-{port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        self._release.set()  # unblock any /slow handler first
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def __enter__(self) -> "OutletServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers for tests ----------------------------------------------------
    def url(self, path: str) -> str:
        """Absolute URL for a path on this server (``url("/gol/rss.xml")``)."""
        return self.base + (path if path.startswith("/") else "/" + path)

    def reset_hits(self) -> None:
        with self._lock:
            self.hits.clear()
            self.requests.clear()

    def hits_snapshot(self) -> collections.Counter[str]:
        with self._lock:
            return collections.Counter(self.hits)

    def set_override(self, path: str, body: bytes | str, content_type: str | None = None,
                     status: int = 200, headers: dict[str, str] | None = None) -> None:
        """Serve ``body`` (``{{BASE}}`` substituted) at ``path`` instead of the fixture file.

        Useful to simulate a feed that changes between two polls.
        """
        if isinstance(body, str):
            body = body.encode("utf-8")
        if content_type is None:
            content_type = content_type_for(Path(path), body)
        with self._lock:
            self._overrides[path] = (status, body, content_type, dict(headers or {}))

    def clear_overrides(self) -> None:
        with self._lock:
            self._overrides.clear()

    def manifest(self) -> dict:
        """MANIFEST.yaml with ``{{BASE}}`` replaced by this server's base URL."""
        if not self.base:
            raise RuntimeError("server not started")
        return load_manifest(self.base)

    def _get_override(self, path: str):
        with self._lock:
            return self._overrides.get(path)

    def _record(self, method: str, path: str, headers: Any) -> None:
        with self._lock:
            self.hits[path] += 1
            self.requests.append((method, path, dict(headers.items())))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the fixture news outlets on loopback.")
    parser.add_argument("--port", type=int, default=0, help="port (default: random)")
    args = parser.parse_args(argv)
    server = OutletServer(port=args.port).start()
    print(server.base, flush=True)
    print("feeds: " + ", ".join(server.url(p) for p in (
        "/ro-stiri/rss.xml", "/vechi-ro/rss.xml", "/wire-en/atom.xml", "/html-ro/stiri/",
        "/agregator/rss.xml", "/rau/rss.xml", "/moved/rss.xml", "/gol/rss.xml")), flush=True)
    print("Ctrl-C to stop.", file=sys.stderr, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
