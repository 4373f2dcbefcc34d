"""monitor.config.load: YAML in, Settings out, or ConfigError with FILE:LINE problems."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from monitor import cli
from monitor.config import ConfigError, Problem, load, parse_duration

REPO = Path(__file__).resolve().parents[2]

RSS = """\
  - name: {name}
    kind: rss
    url: https://example.ro/feed
    language: ro
"""


def write(tmp_path: Path, text: str, name: str = "monitor.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(path: Path, environ: dict[str, str] | None = None) -> list[Problem]:
    with pytest.raises(ConfigError) as info:
        load(path, environ=environ or {})
    assert info.value.problems, "ConfigError without problems"
    return info.value.problems


# (id, yaml text, expected line of the first error, substrings the message must contain)
BAD = [
    (
        "unknown-top-level-key",
        """\
        database: sqlite:///x.db
        sourcez: []
        """,
        2,
        ["sourcez", "unknown key"],
    ),
    (
        "unknown-key-in-source",
        """\
        sources:
          - name: a
            kind: rss
            url: https://example.ro/feed
            language: ro
            intervl: 5m
        """,
        6,
        ["intervl", "unknown key", "source 'a'"],
    ),
    (
        "bad-duration",
        """\
        sources:
          - name: a
            kind: rss
            url: https://example.ro/feed
            language: ro
            interval: 5 minutes
        """,
        6,
        ["interval", "5 minutes", "not a duration"],
    ),
    (
        "bad-default-duration",
        """\
        defaults:
          timeout: soon
        """,
        2,
        ["timeout", "not a duration"],
    ),
    (
        "zero-duration",
        """\
        defaults:
          interval: 0s
        """,
        2,
        ["interval", "positive"],
    ),
    (
        "unknown-kind",
        """\
        sources:
          - name: a
            kind: ftp
            url: https://example.ro/feed
            language: ro
        """,
        3,
        ["kind", "rss", "html"],
    ),
    (
        "missing-kind",
        """\
        sources:
          - name: a
            url: https://example.ro/feed
            language: ro
        """,
        2,
        ["kind is missing"],
    ),
    (
        "missing-url",
        """\
        sources:
          - name: a
            kind: rss
            language: ro
        """,
        2,
        ["url", "missing", "source 'a'"],
    ),
    (
        "url-not-http",
        """\
        sources:
          - name: a
            kind: rss
            url: ftp://example.ro/feed
            language: ro
        """,
        4,
        ["url"],
    ),
    (
        "bad-language",
        """\
        sources:
          - name: a
            kind: rss
            url: https://example.ro/feed
            language: Romanian
        """,
        5,
        ["language"],
    ),
    (
        "duplicate-source-name",
        """\
        sources:
          - name: a
            kind: rss
            url: https://example.ro/feed
            language: ro
          - name: a
            kind: rss
            url: https://example.com/feed
            language: en
        """,
        6,
        ["'a'", "twice"],
    ),
    (
        "html-without-link-rule",
        """\
        sources:
          - name: a
            kind: html
            url: https://example.ro/
            language: ro
        """,
        2,
        ["link_pattern", "link_selector"],
    ),
    (
        "html-with-both-link-rules",
        """\
        sources:
          - name: a
            kind: html
            url: https://example.ro/
            language: ro
            link_pattern: '/stiri/'
            link_selector: 'a.title'
        """,
        2,
        ["exactly one of link_pattern or link_selector"],
    ),
    (
        "invalid-link-pattern",
        """\
        sources:
          - name: a
            kind: html
            url: https://example.ro/
            language: ro
            link_pattern: '(stiri/'
        """,
        6,
        ["link_pattern", "regular expression"],
    ),
    (
        "watch-terms-and-query",
        """\
        watches:
          - name: w
            terms: [ICC]
            query: ICC AND warrant
        """,
        2,
        ["watch 'w'", "terms", "query"],
    ),
    (
        "watch-neither-terms-nor-query",
        """\
        watches:
          - name: w
        """,
        2,
        ["watch 'w'", "terms", "query"],
    ),
    (
        "watch-empty-terms",
        """\
        watches:
          - name: w
            terms: []
        """,
        2,
        ["at least one"],
    ),
    (
        "watch-bad-query",
        """\
        notify:
          ops: json://127.0.0.1/hook
        watches:
          - name: icc
            query: '(ICC AND'
            notify: [ops]
        """,
        5,
        ["watch 'icc'", "column"],
    ),
    (
        "watch-term-without-letters",
        """\
        watches:
          - name: w
            terms: ["--"]
        """,
        3,
        ["watch 'w'", "no letters or digits"],
    ),
    (
        "watch-unknown-notify-target",
        """\
        notify:
          ops: json://127.0.0.1/hook
        watches:
          - name: w
            terms: [ICC]
            notify: [ops, desk]
        """,
        6,
        ["watch 'w'", "unknown notify target 'desk'", "ops"],
    ),
    (
        "duplicate-watch-name",
        """\
        watches:
          - name: w
            terms: [a]
          - name: w
            terms: [b]
        """,
        4,
        ["watch name 'w'", "twice"],
    ),
    (
        "yaml-syntax-error",
        """\
        database: sqlite:///x.db
        sources:
          - name: a
            url: https://example.ro: feed
            kind: rss
        """,
        4,
        ["YAML syntax error", "mapping values"],
    ),
    (
        "yaml-tab-indent",
        "database: sqlite:///x.db\nsources:\n  - name: a\n\tkind: rss\n",
        4,
        ["YAML syntax error", "\\t"],
    ),
    (
        "yaml-bad-indentation",
        """\
        database: sqlite:///x.db
        defaults:
          interval: 5m
         timeout: 3s
        """,
        4,
        ["YAML syntax error"],
    ),
    (
        "duplicate-yaml-key",
        """\
        database: sqlite:///a.db
        sources: []
        database: sqlite:///b.db
        """,
        3,
        ["duplicate key", "database"],
    ),
    (
        "duplicate-yaml-key-nested",
        """\
        defaults:
          interval: 5m
          timeout: 3s
          interval: 10m
        """,
        4,
        ["duplicate key", "interval"],
    ),
    (
        "top-level-not-a-mapping",
        """\
        - just
        - a list
        """,
        1,
        ["mapping"],
    ),
    (
        "notify-target-not-apprise",
        """\
        notify:
          ops: json://127.0.0.1/hook
          desk: notaservice://whatever
        """,
        3,
        ["desk", "Apprise"],
    ),
    (
        "watch-exclude-unusable",
        """\
        watches:
          - name: icc
            terms: [ICC]
            exclude: [cricket, "--"]
        """,
        4,
        ["watch 'icc'", "exclude", "column 2", "no letters"],
    ),
    (
        "watch-near-without-number",
        """\
        watches:
          - name: near
            query: 'Putin NEAR Japarov'
        """,
        3,
        ["watch 'near'", "column 7", "NEAR/n"],
    ),
    (
        "watch-language-not-a-code",
        """\
        watches:
          - name: w
            terms: [x]
            languages: [romanian]
        """,
        4,
        ["languages[0]"],
    ),
    (
        "watch-unknown-source",
        """\
        sources:
          - {name: digi24, kind: rss, url: "https://www.digi24.ro/rss", language: ro}
        watches:
          - name: w
            terms: [x]
            sources: [digi24, digi42]
        """,
        6,
        ["watch 'w'", "unknown source 'digi42'"],
    ),
    (
        "target-digest-without-schedule",
        """\
        notify:
          mail:
            url: json://127.0.0.1/x
            mode: digest
        """,
        2,
        ["notify.mail", "mode: digest needs exactly one of digest"],
    ),
    (
        "target-bad-cron",
        """\
        notify:
          mail: {url: "json://127.0.0.1/x", mode: digest, digest: "every morning"}
        """,
        2,
        ["not a cron expression"],
    ),
    (
        "target-bad-quiet-hours",
        """\
        notify:
          chat:
            url: json://127.0.0.1/x
            quiet: "10pm-7am"
        """,
        4,
        ["notify.chat.quiet", "HH:MM-HH:MM"],
    ),
    (
        "target-unknown-timezone",
        """\
        notify:
          chat: {url: "json://127.0.0.1/x", quiet: "22:00-07:00", timezone: Europe/Bucuresti}
        """,
        2,
        ["unknown time zone"],
    ),
    (
        "target-unknown-option",
        """\
        notify:
          chat:
            url: json://127.0.0.1/x
            ratelimit: 5
        """,
        4,
        ["ratelimit", "unknown key"],
    ),
    (
        "template-syntax-error",
        """\
        templates:
          chat:
            body: "{{ watch "
        """,
        1,
        ["templates", "chat"],
    ),
    (
        "missing-include",
        """\
        include: nowhere.yaml
        """,
        1,
        ["include: nowhere.yaml not found"],
    ),
]


@pytest.mark.parametrize("text,line,fragments", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_config_reports_file_line_and_message(tmp_path, text, line, fragments):
    path = write(tmp_path, text)
    problems = [p for p in problems_of(path) if not p.warning]
    assert problems, "only warnings, expected an error"
    # a missing include is reported at the include: line of the file that names it
    where = str(path)
    assert {p.file for p in problems} == {where}, [str(p) for p in problems]
    found = [p for p in problems if p.line == line and all(f in p.message for f in fragments)]
    assert found, f"no problem at line {line} mentioning {fragments}; got:\n" + "\n".join(map(str, problems))
    assert str(found[0]) == f"{where}:{line}: {found[0].message}"


def test_every_problem_is_reported_not_only_the_first(tmp_path):
    path = write(
        tmp_path,
        """\
        sources:
          - name: a
            kind: rss
            url: https://example.ro/feed
            language: ro
            intervl: 5m
          - name: b
            kind: ftp
            url: https://example.ro/feed
            language: ro
        bogus: true
        """,
    )
    problems = problems_of(path)
    got = {(p.line, next(w for w in ("intervl", "kind", "bogus") if w in p.message)) for p in problems}
    assert got == {(6, "intervl"), (8, "kind"), (11, "bogus")}


def test_problem_str_format():
    assert str(Problem("a/b.yaml", 7, "boom")) == "a/b.yaml:7: boom"
    assert str(Problem("a/b.yaml", 7, "careful", warning=True)) == "a/b.yaml:7: warning: careful"


def test_config_error_message_lists_every_problem():
    err = ConfigError([Problem("x.yaml", 1, "one"), Problem("x.yaml", 2, "two")])
    assert str(err) == "x.yaml:1: one\nx.yaml:2: two"


# ---- included files -------------------------------------------------------------------


MAIN_WITH_INCLUDE = """\
include: watches.yaml
notify:
  ops: json://127.0.0.1/hook
watches:
  - name: main-watch
    terms: [CSTO]
    notify: [ops]
"""


@pytest.mark.parametrize(
    "included,line,fragments",
    [
        (
            """\
            watches:
              - name: good
                terms: [OTSC]
                notify: [ops]
              - name: broken
                query: '(ICC AND'
                notify: [ops]
            """,
            6,
            ["watch 'broken'", "column"],
        ),
        (
            """\
            watches:
              - name: good
                terms: [OTSC]
                notify: [ops]
              - name: typo
                terms: [ICC]
                notfy: [ops]
            """,
            7,
            ["notfy", "unknown key", "watch 'typo'"],
        ),
        (
            """\
            watches:
              - name: good
                terms: [OTSC]
                notify: [ops, desk]
            """,
            4,
            ["unknown notify target 'desk'"],
        ),
        (
            """\
            watches:
              - name: main-watch
                terms: [OTSC]
            """,
            2,
            ["'main-watch'", "twice"],
        ),
        (
            """\
            watches:
              - name: good
                terms: [OTSC
            """,
            4,
            ["YAML syntax error"],
        ),
        (
            """\
            include: more.yaml
            """,
            1,
            ["nested"],
        ),
    ],
    ids=["bad-query", "unknown-key", "unknown-target", "duplicate-name", "yaml-syntax", "nested-include"],
)
def test_problem_in_included_file_names_that_file(tmp_path, included, line, fragments):
    main = write(tmp_path, MAIN_WITH_INCLUDE)
    inc = write(tmp_path, included, "watches.yaml")
    problems = [p for p in problems_of(main) if not p.warning]
    found = [p for p in problems if p.line == line and all(f in p.message for f in fragments)]
    assert found, f"no problem at line {line} mentioning {fragments}; got:\n" + "\n".join(map(str, problems))
    assert found[0].file == str(inc)
    assert str(found[0]).startswith(f"{inc}:{line}: ")
    assert all(p.file == str(inc) for p in problems), [str(p) for p in problems]  # nothing blamed on the main file


def test_include_merges_watches(tmp_path):
    main = write(tmp_path, MAIN_WITH_INCLUDE)
    inc = write(
        tmp_path,
        """\
        watches:
          - name: inc-1
            terms: [OTSC]
            notify: [ops]
          - name: inc-2
            query: ICC AND warrant
            notify: [ops]
        """,
        "watches.yaml",
    )
    settings = load(main, environ={})
    assert [w.name for w in settings.config.watches] == ["main-watch", "inc-1", "inc-2"]
    assert settings.config.watches[2].query == "ICC AND warrant"
    assert settings.files == (main, inc)


def test_include_list_in_subdirectory(tmp_path):
    (tmp_path / "watches.d").mkdir()
    main = write(
        tmp_path,
        """\
        include: [watches.d/a.yaml, watches.d/b.yaml]
        watches:
          - name: w0
            terms: [x]
        """,
    )
    write(tmp_path, "watches:\n  - name: w1\n    terms: [y]\n", "watches.d/a.yaml")
    write(tmp_path, "watches:\n  - name: w2\n    terms: [z]\n", "watches.d/b.yaml")
    settings = load(main, environ={})
    assert [w.name for w in settings.config.watches] == ["w0", "w1", "w2"]
    # the warning about w2 (no notify targets) points into b.yaml
    w2 = [p for p in settings.warnings if "'w2'" in p.message]
    assert len(w2) == 1 and w2[0].file == str(tmp_path / "watches.d" / "b.yaml") and w2[0].line == 2


# ---- good files ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value,seconds",
    [("30s", 30.0), ("10m", 600.0), ("2h", 7200.0), ("1d", 86400.0), ("500ms", 0.5), ("1.5m", 90.0), (45, 45.0), (2.5, 2.5), ("90", 90.0)],
)
def test_durations(tmp_path, value, seconds):
    assert parse_duration(value) == seconds
    path = write(
        tmp_path,
        f"""\
        defaults:
          interval: {value}
        sources:
          - name: a
            kind: rss
            url: https://example.ro/feed
            language: ro
            timeout: {value}
        """,
    )
    settings = load(path, environ={})
    assert settings.config.defaults.interval == seconds
    source = settings.config.sources[0]
    assert settings.config.timeout(source) == seconds
    assert settings.config.interval(source) == seconds


@pytest.mark.parametrize("value", ["5 minutes", "", "m", "-3s", "0", True, "1w", "10 m s"])
def test_parse_duration_rejects(value):
    with pytest.raises(ValueError):
        parse_duration(value)


def test_source_interval_falls_back_to_defaults(tmp_path):
    path = write(tmp_path, "defaults:\n  interval: 7m\nsources:\n" + RSS.format(name="a"))
    settings = load(path, environ={})
    assert settings.config.interval(settings.config.sources[0]) == 420.0
    assert settings.config.timeout(settings.config.sources[0]) == 20.0


def test_full_good_config(tmp_path):
    path = write(
        tmp_path,
        """\
        database: sqlite:///state/monitor.db
        defaults: {interval: 10m, timeout: 20s}
        sources:
          - name: digi24
            kind: rss
            url: https://www.digi24.ro/rss
            language: ro
          - name: html-ro
            kind: html
            url: https://example.ro/stiri/
            language: ro
            link_pattern: '/stiri/\\d+'
          - name: html-sel
            kind: html
            url: https://example.com/news/
            language: en
            link_selector: 'h2 a'
        notify:
          desk: json://127.0.0.1:9/hook
          both: [json://127.0.0.1:9/a, json://127.0.0.1:9/b]
        watches:
          - name: csto
            terms: [CSTO, "Organizația Tratatului de Securitate Colectivă"]
            notify: [desk]
          - name: icc
            query: '(ICC OR "Curtea Penală Internațională") AND (warrant OR "mandat de arestare") NOT cricket'
            notify: [desk, both]
        """,
    )
    settings = load(path, environ={})
    c = settings.config
    assert [s.kind for s in c.sources] == ["rss", "html", "html"]
    assert c.sources[1].link_pattern == "/stiri/\\d+"
    assert settings.targets == {
        "desk": ["json://127.0.0.1:9/hook"],
        "both": ["json://127.0.0.1:9/a", "json://127.0.0.1:9/b"],
    }
    assert settings.unconfigured == {}
    assert settings.warnings == ()
    assert settings.database_url == "sqlite:///" + str((tmp_path / "state" / "monitor.db").resolve())


def test_env_expansion_in_notify_urls(tmp_path):
    path = write(
        tmp_path,
        """\
        notify:
          hook: 'json://${HOOK_HOST}/${HOOK_PATH}'
          fallback: 'json://${FALLBACK_HOST:-127.0.0.1}/x'
          overridden: 'json://${OVERRIDE:-127.0.0.1}/y'
        watches:
          - name: w
            terms: [x]
            notify: [hook, fallback, overridden]
        """,
    )
    settings = load(path, environ={"HOOK_HOST": "10.0.0.5:8080", "HOOK_PATH": "alerts", "OVERRIDE": "10.0.0.6"})
    assert settings.targets == {
        "hook": ["json://10.0.0.5:8080/alerts"],
        "fallback": ["json://127.0.0.1/x"],
        "overridden": ["json://10.0.0.6/y"],
    }
    assert settings.unconfigured == {}
    assert settings.warnings == ()


def test_empty_variable_uses_default(tmp_path):
    path = write(tmp_path, "notify:\n  t: 'json://${H:-127.0.0.1}/x'\n")
    assert load(path, environ={"H": ""}).targets == {"t": ["json://127.0.0.1/x"]}


def test_unset_variable_is_a_warning_not_an_error(tmp_path):
    path = write(
        tmp_path,
        """\
        notify:
          hook: json://127.0.0.1/hook
          telegram: 'tgram://${TG_TOKEN}/12345'
        watches:
          - name: w
            terms: [x]
            notify: [hook, telegram]
        """,
    )
    settings = load(path, environ={})
    assert set(settings.unconfigured) == {"telegram"}
    assert "TG_TOKEN" in settings.unconfigured["telegram"]
    assert settings.targets["hook"] == ["json://127.0.0.1/hook"]
    assert len(settings.warnings) == 1
    warning = settings.warnings[0]
    assert warning.warning and warning.file == str(path) and warning.line == 3
    assert "TG_TOKEN" in warning.message and "telegram" in warning.message
    assert str(warning).startswith(f"{path}:3: warning: ")
    # with the variable set the same file is fully configured
    settings = load(path, environ={"TG_TOKEN": "123456:abcdef"})
    assert settings.unconfigured == {} and settings.warnings == ()
    assert settings.targets["telegram"] == ["tgram://123456:abcdef/12345"]


def test_load_uses_given_environ_not_process_env(tmp_path, monkeypatch):
    monkeypatch.setenv("ONLY_IN_PROCESS", "10.1.1.1")
    path = write(tmp_path, "notify:\n  t: 'json://${ONLY_IN_PROCESS}/x'\n")
    assert "t" in load(path, environ={}).unconfigured
    assert load(path).targets == {"t": ["json://10.1.1.1/x"]}


def test_watch_without_notify_is_a_warning(tmp_path):
    path = write(tmp_path, "watches:\n  - name: quiet\n    terms: [x]\n")
    settings = load(path, environ={})
    assert [(w.line, w.warning) for w in settings.warnings] == [(2, True)]
    assert "quiet" in settings.warnings[0].message


@pytest.mark.parametrize(
    "database,expected",
    [
        ("sqlite:///x.db", "sqlite:///{dir}/x.db"),
        ("sqlite:///data/x.db", "sqlite:///{dir}/data/x.db"),
        ("sqlite:////var/lib/monitor/x.db", "sqlite:////var/lib/monitor/x.db"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("postgresql+psycopg://u:p@db.internal/monitor", "postgresql+psycopg://u:p@db.internal/monitor"),
    ],
)
def test_database_url(tmp_path, monkeypatch, database, expected):
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    path = write(conf_dir, f"database: '{database}'\n")
    monkeypatch.chdir(tmp_path)  # relative sqlite paths follow the config file, not the working directory
    settings = load(path, environ={})
    assert settings.database_url == expected.format(dir=conf_dir.resolve())


def test_relative_config_path_resolves_sqlite_next_to_it(tmp_path, monkeypatch):
    (tmp_path / "etc").mkdir()
    write(tmp_path / "etc", "database: sqlite:///x.db\n")
    monkeypatch.chdir(tmp_path)
    settings = load("etc/monitor.yaml", environ={})
    assert settings.database_url == f"sqlite:///{(tmp_path / 'etc' / 'x.db').resolve()}"


def test_empty_file_is_a_valid_empty_config(tmp_path):
    settings = load(write(tmp_path, ""), environ={})
    assert settings.config.sources == [] and settings.config.watches == []


# ---- the command line ---------------------------------------------------------------------


def test_cli_check_config_bad_file(tmp_path, capsys):
    path = write(
        tmp_path,
        """\
        sources:
          - name: a
            kind: rss
            url: https://example.ro/feed
            language: ro
            intervl: 5m
        watches:
          - name: w
            query: '(ICC AND'
        """,
    )
    assert cli.main(["check-config", "--config", str(path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert any(line.startswith(f"{path}:6: ") and "intervl" in line for line in err), err


def test_cli_check_config_bad_query(tmp_path, capsys):
    path = write(tmp_path, "watches:\n  - name: w\n    query: '(ICC AND'\n")
    assert cli.main(["check-config", "--config", str(path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert any(line.startswith(f"{path}:3: ") and "column" in line and "'w'" in line for line in err), err


def test_cli_check_config_good_file(tmp_path, capsys):
    path = write(
        tmp_path,
        "notify:\n  t: json://127.0.0.1/x\nsources:\n" + RSS.format(name="a") + "watches:\n  - name: w\n    terms: [x]\n    notify: [t]\n",
    )
    assert cli.main(["check-config", "--config", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "OK" in out and "1 sources" in out and "1 watches" in out
    assert err == ""


def test_cli_check_config_missing_file(tmp_path, capsys):
    path = tmp_path / "absent.yaml"
    assert cli.main(["check-config", "--config", str(path)]) == 2
    assert capsys.readouterr().err.startswith(f"{path}:1: ")


def test_example_config_passes_check_config(capsys):
    example = REPO / "config" / "monitor.yaml"
    assert example.is_file(), f"{example} is missing"
    code = cli.main(["check-config", "--config", str(example)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "OK" in out
    # the example must not carry errors; warnings (e.g. unset secrets) are allowed
    assert all(": warning: " in line for line in err.splitlines()), err
