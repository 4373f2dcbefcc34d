"""Shared fixtures: the fixture outlet server, a real SMTP server, a webhook receiver, and running `monitor`."""

from __future__ import annotations

import email
import email.policy
import json
import os
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from outlets import OutletServer  # noqa: E402


@pytest.fixture(scope="session")
def outlets():
    server = OutletServer()
    server.start()
    yield server
    server.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Mailbox:
    port: int
    messages: list[email.message.EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)

    def url(self, to: str = "desk@example.org") -> str:
        return f"mailto://127.0.0.1:{self.port}?from=monitor@example.org&to={to}&mode=insecure"


@pytest.fixture
def smtp():
    """A real SMTP server (aiosmtpd) on loopback that keeps every message it receives."""
    from aiosmtpd.controller import Controller

    box = Mailbox(free_port())

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: ANN001
            box.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
            box.recipients.append(list(envelope.rcpt_tos))
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    controller.stop()


class Webhook:
    """An HTTP receiver for Apprise json:// alerts; `fail_with` makes it answer errors (an outage)."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.fail_with: int | None = None
        self.retry_after: str | None = None
        self.delay: float = 0.0  # seconds to take over each request (a slow receiver)
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if hook.delay:
                    import time

                    time.sleep(hook.delay)
                if hook.fail_with:
                    self.send_response(hook.fail_with)
                    if hook.retry_after:
                        self.send_header("Retry-After", hook.retry_after)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                hook.received.append({"path": self.path, **json.loads(body)})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook
    hook.close()


WATCHES = [
    {
        "name": "csto",
        "terms": ["CSTO", "OTSC", "Collective Security Treaty Organization", "Organizația Tratatului de Securitate Colectivă"],
    },
    {
        "name": "icc-warrant",
        "query": '(ICC OR "International Criminal Court" OR "Curtea Penală Internațională") AND (warrant OR "mandat de arestare")',
    },
]


DEFAULT_DATABASE: str | None = None  # set per test by tests/e2e/conftest.py to run the suite on PostgreSQL too


def write_config(
    path: Path,
    outlets: OutletServer,
    notify: dict[str, str],
    sources: list[str] | None = None,
    database: str | None = None,
    timeout: str = "3s",
    interval: str = "10m",
) -> Path:
    """A monitor config over the fixture outlets (all, or the named ones) with the two test watches."""
    manifest = outlets.manifest()
    chosen = [s for s in manifest["sources"] if sources is None or s["name"] in sources]
    cfg = {
        "database": database or DEFAULT_DATABASE or f"sqlite:///{path.parent / 'monitor.db'}",
        "defaults": {"interval": interval, "timeout": timeout},
        "sources": chosen,
        "notify": notify,
        "watches": [{**w, "notify": list(notify)} for w in WATCHES],
    }
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def start_daemon(config: Path, log_path: Path | None = None, *args: str) -> subprocess.Popen:
    """`monitor run --config FILE ARGS` in the background, its output in log_path (or discarded)."""
    out = open(log_path, "w") if log_path is not None else subprocess.DEVNULL  # noqa: SIM115 - the child keeps it
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "--config", str(config), *args],
            stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    finally:
        if log_path is not None:
            out.close()


def run_monitor(*args: str, config: Path, timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python -m monitor ARGS --config FILE` as a user would run it."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=full_env,
    )


PG_ADMIN = os.environ.get("MONITOR_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _pg_database():
    """A fresh PostgreSQL database on the local server, dropped afterwards."""
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"monitor_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """Each storage backend the monitor supports: SQLite in a temp dir, PostgreSQL on loopback."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'monitor.db'}"
    else:
        yield from _pg_database()


# ---- the end-to-end suite runs on both storage backends -------------------------------------------

E2E = Path(__file__).resolve().parent / "e2e"


def pytest_configure(config):
    config.addinivalue_line("markers", "one_backend: the test chooses its own database(s)")


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        in_e2e = E2E in Path(str(metafunc.definition.path)).resolve().parents
        one = metafunc.definition.get_closest_marker("one_backend") is not None
        metafunc.parametrize("backend", ["sqlite", "postgresql"] if in_e2e and not one else ["sqlite"], indirect=True)


@pytest.fixture(autouse=True)
def backend(request, monkeypatch):
    """For the postgresql run of an end-to-end test, write_config's default database is a fresh PostgreSQL one."""
    if getattr(request, "param", "sqlite") == "postgresql":
        databases = _pg_database()
        monkeypatch.setattr(sys.modules[__name__], "DEFAULT_DATABASE", next(databases))
        yield request.param
        next(databases, None)
    else:
        yield "sqlite"
