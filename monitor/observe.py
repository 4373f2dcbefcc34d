"""What an operator sees: Prometheus metrics, the HTTP endpoint (/healthz, /health, /metrics), JSON logs."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

log = logging.getLogger(__name__)


class Metrics:
    """The daemon's counters; one registry per process (not the global one), so tests stay apart."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.fetches = Counter("monitor_fetches", "Source fetches by outcome (ok, not_modified, error)", ["source", "outcome"], registry=r)
        self.items = Counter("monitor_items", "Feed entries or listing links seen", ["source"], registry=r)
        self.new_articles = Counter("monitor_new_articles", "Articles stored for the first time", ["source"], registry=r)
        self.stories = Counter("monitor_stories", "Stories started", registry=r)
        self.matches = Counter("monitor_matches", "Watch matches on new articles", registry=r)
        self.alerts = Counter("monitor_alerts", "Alert deliveries by outcome (sent, failed, gave_up)", ["outcome"], registry=r)
        self.pending = Gauge("monitor_outbox_pending", "Deliveries waiting in the outbox", registry=r)
        self.fetch_seconds = Histogram(
            "monitor_fetch_seconds", "Time to crawl a source", ["source"], registry=r,
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80),
        )
        self.last_success = Gauge("monitor_last_success_timestamp_seconds", "When each source last fetched fine", ["source"], registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)


Handler = Callable[[], Awaitable[tuple[int, dict]]]


async def serve_http(listen: str, healthz: Handler, health: Handler, metrics: Callable[[], bytes]) -> asyncio.AbstractServer:
    """A minimal HTTP/1.1 server on the daemon's loop: GET /healthz, /health, /metrics."""
    host, port = listen.rsplit(":", 1)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            parts = request.split()
            path = parts[1].decode("latin-1").split("?")[0] if len(parts) > 1 else "/"
            content_type = "application/json"
            if path == "/metrics":
                status, body, content_type = 200, metrics(), CONTENT_TYPE_LATEST
            elif path in ("/healthz", "/health", "/"):
                status, report = await (healthz() if path == "/healthz" else health())
                body = json.dumps(report, ensure_ascii=False).encode()
            else:
                status, body = 404, b'{"error": "not found; try /healthz, /health or /metrics"}'
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}.get(status, "")
            head = f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            writer.write(head.encode() + body)
            await writer.drain()
        except (asyncio.TimeoutError, ConnectionError):
            pass
        except Exception:  # noqa: BLE001 - a broken request must not take the daemon down
            log.exception("http endpoint: request failed")
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, int(port))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and any `extra=` fields."""

    _STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in self._STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)
