"""Command line: run, run --once, check-config, stories, status."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import sys
from datetime import datetime

from monitor import config as config_mod
from monitor.config import ConfigError, Settings, parse_duration

EXIT_CONFIG = 2


def _duration_arg(value: str) -> float:
    """--since values: a clear usage error (exit 2) instead of a traceback for '3 days'."""
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        default=argparse.SUPPRESS,
        help=f"config file (default: $MONITOR_CONFIG or {config_mod.DEFAULT_PATH})",
    )
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log more")
    common.add_argument("--log-format", choices=["text", "json"], default=argparse.SUPPRESS, help="log lines as text (default) or JSON")
    p = argparse.ArgumentParser(prog="monitor", description="Watch news outlets and alert once per story.", parents=[common])
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser("run", parents=[common], help="run the daemon (or one pass with --once)")
    run.add_argument("--once", action="store_true", help="fetch every source once, alert, and exit")
    run.add_argument("--http", metavar="HOST:PORT", help="serve /healthz, /health and /metrics (Prometheus) here")
    sub.add_parser("check-config", parents=[common], help="validate the config file")
    stories = sub.add_parser("stories", parents=[common], help="list recent stories")
    stories.add_argument("--json", action="store_true")
    stories.add_argument("--since", default="24h", type=_duration_arg, help="how far back (e.g. 6h, 7d; default 24h)")
    status = sub.add_parser("status", parents=[common], help="show each source's last fetch")
    status.add_argument("--json", action="store_true")
    test = sub.add_parser("test-watch", parents=[common], help="replay stored articles through one watch")
    test.add_argument("name", nargs="?", help="a watch of the config (or a label for --query)")
    test.add_argument("--query", help="try an unsaved query instead of a configured watch")
    test.add_argument("--since", default="7d", type=_duration_arg, help="how far back (default 7d)")
    test.add_argument("--json", action="store_true")
    alerts = sub.add_parser("alerts", parents=[common], help="list deliveries, or re-queue failed ones (alerts retry ID|--all-failed)")
    alerts.add_argument("action", nargs="?", choices=["retry"], help="retry: re-queue failed deliveries")
    alerts.add_argument("id", nargs="*", type=int, help="delivery ids to retry")
    which = alerts.add_mutually_exclusive_group()
    which.add_argument("--pending", action="store_true", help="only deliveries still to be sent")
    which.add_argument("--failed", action="store_true", help="only deliveries given up on")
    alerts.add_argument("--all-failed", action="store_true", help="with retry: every failed delivery")
    alerts.add_argument("--json", action="store_true")
    db = sub.add_parser("db", parents=[common], help="database: upgrade (migrate), stats, prune (retention)")
    db.add_argument("action", choices=["upgrade", "stats", "prune"])
    db.add_argument("--json", action="store_true")
    ntest = sub.add_parser("notify-test", parents=[common], help="send a test message to a notify target")
    ntest.add_argument("target")
    explain = sub.add_parser("explain", parents=[common], help="which watches match a stored article, and why")
    explain.add_argument("url")
    explain.add_argument("--json", action="store_true")
    return p


def _load(path: str, log_warnings: bool = False) -> Settings | None:
    try:
        settings = config_mod.load(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return None
    for warning in settings.warnings:
        if log_warnings:  # the daemon's log, in the daemon's log format
            logging.getLogger("monitor.config").warning("%s", warning)
        else:
            print(warning, file=sys.stderr)
    return settings


def _open_store(settings: Settings):
    """The store, or None after printing why the database cannot be used."""
    from sqlalchemy.exc import SQLAlchemyError

    from monitor.store import Store

    try:
        return Store.from_url(settings.database_url)
    except (SQLAlchemyError, OSError) as exc:
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())[:500]
        print(f"{settings.path}: cannot open the database: {reason}", file=sys.stderr)
        return None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:  # `monitor stories | head`: the reader left, nothing is wrong
        sys.stderr.close()
        return 0


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    path = getattr(args, "config", None) or os.environ.get("MONITOR_CONFIG") or config_mod.DEFAULT_PATH
    verbose = getattr(args, "verbose", False)
    logging.basicConfig(
        level=logging.DEBUG if verbose else getattr(logging, os.environ.get("MONITOR_LOG_LEVEL", "INFO").upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if getattr(args, "log_format", "text") == "json":
        from monitor.observe import JsonFormatter

        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter())
    for noisy in ("scrapy", "apscheduler", "trafilatura", "htmldate", "py.warnings", "apprise", "twisted"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
    if not os.path.exists(path):
        print(f"{path}:1: config file not found (use --config FILE or MONITOR_CONFIG)", file=sys.stderr)
        return EXIT_CONFIG
    settings = _load(path, log_warnings=args.command == "run")
    if settings is None:
        return EXIT_CONFIG

    if args.command == "check-config":
        c = settings.config
        print(f"{path}: OK ({len(c.sources)} sources, {len(c.watches)} watches, {len(c.notify)} notify targets)")
        return 0
    if args.command == "run":
        if args.http and not re.match(r"^[^:\s]+:\d+$", args.http):
            print(f"monitor run: --http {args.http!r}: expected HOST:PORT, e.g. 127.0.0.1:9108", file=sys.stderr)
            return EXIT_CONFIG
        return _run(settings, once=args.once, http=args.http)
    if args.command == "stories":
        return _stories(settings, args.since, args.json)
    if args.command == "status":
        return _status(settings, args.json)
    if args.command == "test-watch":
        return _test_watch(settings, args.name, args.query, args.since, args.json)
    if args.command == "explain":
        return _explain(settings, args.url, args.json)
    if args.command == "alerts":
        return _alerts(settings, args)
    if args.command == "notify-test":
        return _notify_test(settings, args.target)
    if args.command == "db":
        return _db(settings, args.action, args.json)
    return 1


def _run(settings: Settings, once: bool, http: str | None = None) -> int:
    from monitor.app import Monitor, install_signals, run_on_reactor

    store = _open_store(settings)
    if store is None:
        return 1
    monitor = Monitor(settings, store=store)
    monitor.http = http

    async def main() -> int:
        if once:
            await monitor.run_once()
            return 0
        stop = asyncio.Event()
        install_signals(stop, monitor)
        await monitor.serve(stop)
        return 0

    try:
        return run_on_reactor(main)
    finally:
        monitor.store.close()


def _stories(settings: Settings, since_seconds: float, as_json: bool) -> int:
    from datetime import timedelta

    from monitor.app import utcnow

    store = _open_store(settings)
    if store is None:
        return 1
    stories = store.stories(since=utcnow() - timedelta(seconds=since_seconds))
    if as_json:
        out = [
            {
                "id": s.id,
                "title": s.title,
                "first_seen": _iso(s.first_seen),
                "languages": s.languages,
                "articles": [
                    {"url": a.url, "source": a.source, "language": a.language, "title": a.title, "published": _iso(a.published)}
                    for a in s.articles
                ],
            }
            for s in stories
        ]
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    if not stories:
        print("no stories in that period")
    for s in stories:
        outlets = sorted({a.source for a in s.articles})
        print(f"#{s.id} {s.title}")
        print(f"    first seen {s.first_seen:%Y-%m-%d %H:%M} UTC, {len(s.articles)} article(s), {', '.join(outlets)} [{', '.join(s.languages)}]")
        for a in s.articles:
            print(f"    - {a.source} ({a.language}): {a.url}")
    return 0


def _status(settings: Settings, as_json: bool) -> int:
    store = _open_store(settings)
    if store is None:
        return 1
    states = {s.name: s for s in store.source_states()}
    rows = []
    for source in settings.config.sources:
        st = states.get(source.name)
        rows.append(
            {
                "name": source.name,
                "kind": source.kind,
                "url": source.url,
                "last_fetch": _iso(st.last_fetch) if st else None,
                "last_success": _iso(st.last_success) if st else None,
                "outcome": st.outcome if st else "never",
                "error": (st.error or None) if st else None,
                "items": st.items if st else 0,
                "new_items": st.new_items if st else 0,
                "consecutive_failures": st.consecutive_failures if st else 0,
                "not_modified": st.not_modified if st else False,
                "error_class": (st.error_class or None) if st else None,
                "failing_since": _iso(st.failing_since) if st else None,
                "last_new_item": _iso(st.last_new_item) if st else None,
                "next_fetch": _iso(st.next_due) if st else None,
                "incident": (st.incident or None) if st else None,
            }
        )
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    print(f"{'source':20} {'last fetch (UTC)':17} {'outcome':8} {'items':>5} {'new':>4} {'fails':>5}  {'last new item':16}  error")
    for r in rows:
        when = r["last_fetch"][:16].replace("T", " ") if r["last_fetch"] else "-"
        new = r["last_new_item"][:16].replace("T", " ") if r["last_new_item"] else "-"
        outcome = "304" if r["not_modified"] and r["outcome"] == "ok" else r["outcome"]
        error = f"[{r['error_class']}] {r['error']}" if r["error"] else ""
        if r["incident"]:
            error = f"{r['incident'].upper()}: {error}".strip()
        print(f"{r['name']:20} {when:17} {outcome:8} {r['items']:>5} {r['new_items']:>4} {r['consecutive_failures']:>5}  {new:16}  {error}")
    return 0


def _test_watch(settings: Settings, name: str | None, query: str | None, since_seconds: float, as_json: bool) -> int:
    from datetime import timedelta

    from monitor.app import compile_config_watch, utcnow
    from monitor.match import QueryError, compile_watch
    from monitor.replay import replay

    if query is not None:
        try:
            watch = compile_watch(name or "query", query=query)
        except QueryError as exc:
            print(f"monitor test-watch: --query: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        shown = query
    else:
        configured = {w.name: w for w in settings.config.watches}
        if name not in configured:
            known = ", ".join(configured) or "none"
            print(f"monitor test-watch: no watch named {name!r} in {settings.path} (known: {known}); or give --query", file=sys.stderr)
            return EXIT_CONFIG
        watch = compile_config_watch(configured[name])
        w = configured[name]
        shown = w.query if w.query is not None else " OR ".join(f'"{t}"' for t in w.terms or [])
    store = _open_store(settings)
    if store is None:
        return 1
    since = utcnow() - timedelta(seconds=since_seconds)
    titles = {s.id: s.title for s in store.stories(since=since)}
    result = replay(watch, store.articles_since(since), titles)
    if as_json:
        print(json.dumps({**result.as_json(since), "query": shown}, ensure_ascii=False, indent=2))
        return 0
    print(f"watch {watch.name}: {shown}")
    print(f"{result.scanned} article(s) since {since:%Y-%m-%d %H:%M} UTC; {result.matched} matched, in {len(result.stories)} story(ies)")
    if result.per_day:
        print("\nmatches per day:")
        for day, n in sorted(result.per_day.items()):
            print(f"  {day}  {n:4d}  {'#' * min(n, 60)}")
    if result.stories:
        print("\nstories it would alert on:")
    for story in result.stories.values():
        print(f"  #{story.id} {story.title}")
        for a in story.articles:
            print(f"    - {a.source} ({a.language}): {a.title}")
            print(f"      {a.url}")
            print(f"      why: {a.clause}")
            for h in a.hits:
                print(f"      {h.term} ({h.field}): {h.snippet.replace('[[', '«').replace(']]', '»')}")
    return 0


def _explain(settings: Settings, url: str, as_json: bool) -> int:
    from monitor.app import build_watchlist
    from monitor.normalize import canonical_url
    from monitor.replay import explain_article

    store = _open_store(settings)
    if store is None:
        return 1
    row = store.article_by_url(url, canonical_url(url))
    if row is None:
        print(f"monitor explain: no stored article has the URL {url}", file=sys.stderr)
        return 1
    verdicts = explain_article(build_watchlist(settings), row)
    if as_json:
        out = {
            "url": row.canonical_url,
            "source": row.source,
            "language": row.language,
            "title": row.title,
            "watches": [{"watch": v.watch, "matched": v.matched, "reason": v.reason} for v in verdicts],
        }
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    print(f"{row.title}\n{row.canonical_url}  ({row.source}, {row.language})\n")
    for v in verdicts:
        mark = "MATCH   " if v.matched else "no match"
        print(f"  {mark} {v.watch}: {v.reason}")
    return 0


def _alerts(settings: Settings, args: argparse.Namespace) -> int:
    from monitor.app import utcnow

    store = _open_store(settings)
    if store is None:
        return 1
    if args.action == "retry":
        if not args.id and not args.all_failed:
            print("monitor alerts retry: give delivery ids or --all-failed", file=sys.stderr)
            return EXIT_CONFIG
        n = store.retry(utcnow(), None if args.all_failed else args.id)
        print(f"{n} failed deliver{'y' if n == 1 else 'ies'} queued again")
        return 0
    status = "pending" if args.pending else "failed" if args.failed else None
    rows = store.deliveries(status)
    titles = {s.id: s.title for s in store.stories(ids={r.story_id for r in rows})} if rows else {}
    out = [
        {
            "id": r.id,
            "status": r.status,
            "watch": r.watch,
            "target": r.target,
            "story_id": r.story_id,
            "headline": titles.get(r.story_id, ""),
            "kind": "follow-up" if r.seq else ("digest" if r.mode.startswith("digest:") else "alert"),
            "attempts": r.attempts,
            "last_error": r.last_error or None,
            "created": _iso(r.created),
            "next_attempt": _iso(r.next_attempt) if r.status == "pending" else None,
            "sent_at": _iso(r.sent_at),
        }
        for r in rows
    ]
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    if not out:
        print("no deliveries" + (f" {status}" if status else ""))
    for r in out:
        when = r["sent_at"] or r["next_attempt"] or r["created"] or ""
        print(f"#{r['id']:<5} {r['status']:8} {r['kind']:9} {r['watch']} -> {r['target']}  story {r['story_id']}: {r['headline'][:70]}")
        detail = f"attempts {r['attempts']}, {'sent' if r['sent_at'] else 'next try' if r['next_attempt'] else 'created'} {when[:16].replace('T', ' ')}"
        print(f"       {detail}" + (f"; last error: {r['last_error'][:200]}" if r["last_error"] else ""))
    return 0


def _notify_test(settings: Settings, target: str) -> int:
    from monitor.app import Monitor, utcnow

    if target not in settings.config.notify:
        known = ", ".join(settings.config.notify) or "none"
        print(f"monitor notify-test: no notify target named {target!r} (known: {known})", file=sys.stderr)
        return EXIT_CONFIG
    if target in settings.unconfigured:
        print(f"monitor notify-test: target '{target}' cannot send: {settings.unconfigured[target]}", file=sys.stderr)
        return 1
    store = _open_store(settings)
    if store is None:
        return 1
    results = Monitor(settings, store=store).deliverer.test(target, utcnow())
    for url, outcome in results:
        scheme = url.split(":", 1)[0]
        print(f"{target} ({scheme}): " + ("OK, sent" if outcome.error is None else f"FAILED: {outcome.error}"))
    return 0 if all(o.error is None for _, o in results) else 1


def _db(settings: Settings, action: str, as_json: bool) -> int:
    from datetime import timedelta

    from monitor import db
    from monitor.app import utcnow

    store = _open_store(settings)  # opening migrates: `upgrade` only reports it
    if store is None:
        return 1
    if action == "upgrade":
        print(f"database at revision {db.current(store.engine)} (newest: {db.head()})")
        return 0
    if action == "prune":
        keep = settings.config.retention.text
        if keep is None:
            print("monitor db prune: set retention: {text: 90d} in the config first", file=sys.stderr)
            return EXIT_CONFIG
        n = db.prune(store.engine, utcnow() - timedelta(seconds=keep))
        print(f"pruned the text of {n} article(s) older than {keep / 86400:g} day(s)")
        return 0
    stats = db.stats(store.engine)
    if as_json:
        print(json.dumps(stats, ensure_ascii=False, indent=2, default=str))
        return 0
    print(f"backend {stats['backend']}, revision {stats['revision']}, size {stats['size_bytes'] / 1e6:.1f} MB")
    for table, n in sorted(stats["rows"].items()):
        print(f"  {table:15} {n:>10,} rows")
    print(f"  articles with text {stats['articles_with_text']:,}, pruned {stats['articles_pruned']:,}")
    print(f"  oldest article {stats['oldest_article']}, newest {stats['newest_article']}")
    return 0
