"""The configuration file: YAML in, a validated Config out, or FILE:LINE problems.

Models are closed (unknown keys are errors). Every problem is reported with the
file and line it comes from, including files pulled in with ``include:``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag, ValidationError, field_validator, model_validator

DEFAULT_PATH = "config/monitor.yaml"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: Any) -> float:
    """'30s', '10m', '2h', '1d' or a number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 10m or 2h")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ValueError(f"{value!r} is not a duration; use e.g. 30s, 10m or 2h")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]


def _duration_or_zero(value: Any) -> float:
    return 0.0 if value in (0, "0", "0s") else parse_duration(value)


Pause = Annotated[float, BeforeValidator(_duration_or_zero)]
Language = Annotated[str, Field(pattern=r"^[a-z]{2}$")]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Defaults(_Closed):
    interval: Duration = 600.0
    timeout: Duration = 20.0
    per_host: Annotated[int, Field(ge=1)] = 2  # crawls of sources on one host at the same time
    host_delay: Pause = 1.0  # pause between starting two crawls on one host


class _SourceBase(_Closed):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    url: Annotated[str, Field(pattern=r"^https?://")]
    language: Language
    interval: Duration | None = None
    timeout: Duration | None = None
    max_interval: Duration | None = None  # a quiet source is polled less often, up to this (default 4x interval)


class RssSource(_SourceBase):
    kind: Literal["rss"]
    fulltext: bool = True


class HtmlSource(_SourceBase):
    kind: Literal["html"]
    link_pattern: str | None = None
    link_selector: str | None = None

    @field_validator("link_pattern")
    @classmethod
    def _valid_regex(cls, value: str | None) -> str | None:
        # a field validator, so the problem points at the link_pattern: line
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _one_link_rule(self) -> "HtmlSource":
        if (self.link_pattern is None) == (self.link_selector is None):
            raise ValueError("an html source needs exactly one of link_pattern or link_selector")
        return self


Source = Annotated[Union[RssSource, HtmlSource], Field(discriminator="kind")]


def _check_cron(expr: str) -> str:
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(expr)
    except ValueError as exc:
        raise ValueError(f"digest: {expr!r} is not a cron expression (minute hour day month weekday): {exc}") from None
    return expr


_QUIET = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)-([01]?\d|2[0-3]):([0-5]\d)$")


class _Schedule(_Closed):
    """Digest scheduling shared by watches and targets."""

    mode: Literal["instant", "digest"] = "instant"
    digest: str | None = None  # cron, e.g. "0 8 * * *"
    every: Duration | None = None

    @field_validator("digest")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return None if value is None else _check_cron(value)

    @model_validator(mode="after")
    def _digest_needs_a_schedule(self):  # noqa: ANN202
        if self.mode == "digest" and (self.digest is None) == (self.every is None):
            raise ValueError("mode: digest needs exactly one of digest (a cron schedule) or every (e.g. 1h)")
        if self.mode == "instant" and (self.digest is not None or self.every is not None):
            raise ValueError("digest/every only apply with mode: digest")
        return self


class Target(_Schedule):
    """A notify target with options; a plain URL or list of URLs is the same with defaults."""

    url: str | None = None
    urls: list[str] | None = None
    rate: Annotated[int, Field(ge=1)] | None = None  # messages per minute; default by kind of service
    quiet: str | None = None  # "22:00-07:00": held, then sent as one digest
    timezone: str = "Europe/Bucharest"
    give_up_after: Duration = 24 * 3600.0

    @field_validator("quiet")
    @classmethod
    def _quiet(cls, value: str | None) -> str | None:
        if value is not None and not _QUIET.match(value):
            raise ValueError(f"{value!r} is not HH:MM-HH:MM, e.g. 22:00-07:00")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(value)
        except Exception:  # noqa: BLE001 - zoneinfo raises several kinds
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/Bucharest)") from None
        return value

    @model_validator(mode="after")
    def _check(self):  # noqa: ANN202
        if (self.url is None) == (self.urls is None):
            raise ValueError("a notify target needs exactly one of url or urls")
        return self

    def url_list(self) -> list[str]:
        return [self.url] if self.url is not None else list(self.urls or [])


class Watch(_Schedule):
    # mode/digest/every (from _Schedule): a digest watch sends its alerts to every target as a digest
    name: Annotated[str, Field(min_length=1)]
    terms: list[Annotated[str, Field(min_length=1)]] | None = None
    query: str | None = None
    exclude: list[Annotated[str, Field(min_length=1)]] = []  # the watch stays silent if any of these occurs
    languages: list[Language] | None = None  # only articles in these languages
    sources: list[str] | None = None  # only articles from these sources
    notify: list[str] = []
    updates: bool = False  # "also covered by" follow-ups when later articles join an alerted story

    @model_validator(mode="after")
    def _terms_or_query(self) -> "Watch":
        if (self.terms is None) == (self.query is None):
            raise ValueError("a watch needs exactly one of terms or query")
        if self.terms is not None and not self.terms:
            raise ValueError("terms must list at least one phrase")
        return self


class StoriesConfig(_Closed):
    window: Duration = 72 * 3600.0  # an article may join a story first seen this long ago


def _target_shape(value: Any) -> str:
    return "url" if isinstance(value, str) else "urls" if isinstance(value, list) else "options"


# one Apprise URL, a list of them, or a mapping with options: errors speak of the form used
NotifyTarget = Annotated[
    Union[Annotated[str, Tag("url")], Annotated[list[str], Tag("urls")], Annotated[Target, Tag("options")]],
    Discriminator(_target_shape),
]


class Retention(_Closed):
    text: Duration | None = None  # articles' full text older than this is emptied (metadata and stories kept)


class Operator(_Closed):
    """Who hears about sources that fail for hours or fall silent."""

    notify: list[str] = []
    failing_after: Duration = 6 * 3600.0
    silence_factor: float = Field(default=3.0, gt=1.0)


class Health(_Closed):
    listen: Annotated[str, Field(pattern=r"^[^:]+:\d+$")] = "127.0.0.1:8088"


Kind = Literal["email", "chat", "webhook"]


class Config(_Closed):
    database: str = "sqlite:///monitor.db"
    defaults: Defaults = Defaults()
    stories: StoriesConfig = StoriesConfig()
    sources: list[Source] = []
    notify: dict[str, NotifyTarget] = {}
    templates: dict[Kind, dict[Literal["title", "body"], str]] = {}
    health: Health | None = None
    operator: Operator = Operator()
    retention: Retention = Retention()
    watches: list[Watch] = []
    include: str | list[str] | None = None

    def interval(self, source: RssSource | HtmlSource) -> float:
        return source.interval or self.defaults.interval

    def timeout(self, source: RssSource | HtmlSource) -> float:
        return source.timeout or self.defaults.timeout

    def max_interval(self, source: RssSource | HtmlSource) -> float:
        return max(source.max_interval or 4 * self.interval(source), self.interval(source))


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str
    warning: bool = False

    def __str__(self) -> str:
        kind = "warning: " if self.warning else ""
        return f"{self.file}:{self.line}: {kind}{self.message}"


class ConfigError(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class Settings:
    """A loaded config plus what was derived from it outside the models."""

    config: Config
    path: Path
    files: tuple[Path, ...]  # the main file and every included file
    database_url: str
    targets: dict[str, list[str]]  # notify target -> Apprise URLs, env expanded
    unconfigured: dict[str, str]  # notify target -> why it cannot send (unset variable)
    warnings: tuple[Problem, ...]
    options: dict[str, "Target"] = field(default_factory=dict)  # notify target -> its delivery options


Loc = tuple[Any, ...]


class _Lines:
    """Where each value of the merged document came from."""

    def __init__(self) -> None:
        self.at: dict[Loc, tuple[str, int]] = {}

    def find(self, loc: Loc) -> tuple[str, int]:
        path: Loc = ()
        for part in loc:
            if path + (part,) in self.at:
                path = path + (part,)
            # other parts are union tags or model names in pydantic's loc
        return self.at.get(path) or self.at[()]


def _compose(text: str) -> yaml.Node | None:
    """The YAML node tree: libyaml when present (~10x faster on a big config), and PyYAML's own
    parser for a broken file, whose messages name the offending character."""
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            return yaml.compose(text, Loader=fast)
        except yaml.YAMLError:
            pass
    return yaml.compose(text, Loader=yaml.SafeLoader)


def _load_yaml(path: Path, lines: _Lines, prefix: Loc, shift: dict[str, int]) -> Any:
    """Parse one file into plain data, recording the line of every key and item."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([Problem(name, 1, f"cannot read: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(name, 1, f"not UTF-8 text: {exc.reason}")]) from None
    try:
        node = _compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ConfigError([Problem(name, line, f"YAML syntax error: {exc.problem or exc}")]) from None
    if node is None:
        lines.at.setdefault(prefix, (name, 1))
        return {}
    constructor = yaml.SafeLoader("")

    def build(n: yaml.Node, loc: Loc) -> Any:
        lines.at[loc] = (name, n.start_mark.line + 1)
        if isinstance(n, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for k, v in n.value:
                key = constructor.construct_object(k, deep=True)
                if isinstance(key, str) and key in out:
                    raise ConfigError([Problem(name, k.start_mark.line + 1, f"duplicate key {key!r}")])
                child = loc + (key,)
                if len(loc) == len(prefix) and key in shift:
                    # top-level lists of an included file append to the main file's lists
                    value = build_list_shifted(v, child, shift[key])
                else:
                    value = build(v, child)
                lines.at[child] = (name, k.start_mark.line + 1)
                out[key] = value
            return out
        if isinstance(n, yaml.SequenceNode):
            return [build(item, loc + (i,)) for i, item in enumerate(n.value)]
        return constructor.construct_object(n, deep=True)

    def build_list_shifted(n: yaml.Node, loc: Loc, offset: int) -> Any:
        if not isinstance(n, yaml.SequenceNode):
            return build(n, loc)
        return [build(item, loc + (offset + i,)) for i, item in enumerate(n.value)]

    lines.at.setdefault(prefix, (name, 1))
    return build(node, prefix)


_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(value: str, environ: dict[str, str]) -> tuple[str, list[str]]:
    """Replace ${VAR} and ${VAR:-default}; return the text and the unset variables."""
    missing: list[str] = []

    def sub(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        if name in environ and environ[name] != "":
            return environ[name]
        if default is not None:
            return default
        missing.append(name)
        return ""

    return _ENV.sub(sub, value), missing


def _describe(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _pydantic_problems(exc: ValidationError, lines: _Lines, data: dict[str, Any]) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        # drop pydantic's union tags ('rss', 'html') and validator names so the path reads like the file
        path = tuple(p for p in loc if isinstance(p, int) or p in _keys_along(data, loc))
        if err["type"] == "missing" and loc and isinstance(loc[-1], str):
            path = path + (loc[-1],)  # the missing key is not in the data; still name it
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            file, line = lines.find(loc + ("kind",))  # point at the bad kind: line when there is one
        else:
            file, line = lines.find(loc)
        where = _describe(path)
        if err["type"] == "extra_forbidden":
            msg = f"{where}: unknown key"
        elif err["type"] == "missing":
            msg = f"{where}: required key is missing"
        elif err["type"] == "union_tag_invalid":
            msg = f"{where}: kind must be one of rss, html"
        elif err["type"] == "union_tag_not_found":
            msg = f"{where}: kind is missing (rss or html)"
        else:
            text = err["msg"].removeprefix("Value error, ")
            msg = f"{where}: {text}" if where else text
        name = _source_or_watch_name(data, path)
        if name:
            msg = f"{name}: {msg}"
        problems.append(Problem(file, line, msg))
    return problems


def _keys_along(data: Any, loc: Loc) -> set[Any]:
    keys: set[Any] = set()
    node = data
    for part in loc:
        if isinstance(node, dict):
            keys.update(node.keys())
            if part in node:
                node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
    return keys


def _source_or_watch_name(data: dict[str, Any], path: Loc) -> str:
    if len(path) >= 2 and path[0] in ("sources", "watches") and isinstance(path[1], int):
        items = data.get(path[0])
        if isinstance(items, list) and path[1] < len(items) and isinstance(items[path[1]], dict):
            name = items[path[1]].get("name")
            if isinstance(name, str):
                return f"{'source' if path[0] == 'sources' else 'watch'} '{name}'"
    return ""


def load(path: str | os.PathLike[str], environ: dict[str, str] | None = None) -> Settings:
    """Read, merge includes, validate. Raises ConfigError listing every problem."""
    environ = dict(os.environ) if environ is None else environ
    main = Path(path)
    lines = _Lines()
    data = _load_yaml(main, lines, (), {})
    if not isinstance(data, dict):
        raise ConfigError([Problem(str(main), 1, "the file must be a mapping of keys (database, sources, ...)")])
    files = [main]
    problems: list[Problem] = []
    includes = data.get("include")
    for inc in [includes] if isinstance(includes, str) else includes if isinstance(includes, list) else []:
        if not isinstance(inc, str):
            continue
        inc_path = (main.parent / inc) if not os.path.isabs(inc) else Path(inc)
        shift = {k: len(v) for k, v in data.items() if isinstance(v, list)}
        if not inc_path.is_file():
            problems.append(Problem(*lines.find(("include",)), f"include: {inc} not found (looked for {inc_path})"))
            continue
        try:
            extra = _load_yaml(inc_path, lines, (), shift)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        files.append(inc_path)
        if not isinstance(extra, dict):
            problems.append(Problem(str(inc_path), 1, "an included file must be a mapping of keys"))
            continue
        for key, value in extra.items():
            if key == "include":
                file, line = lines.find(("include",))
                problems.append(Problem(str(inc_path), line, "include: cannot be nested"))
            elif isinstance(value, list) and isinstance(data.get(key), list):
                data[key] = data[key] + value
            elif isinstance(value, dict) and isinstance(data.get(key), dict):
                for k in value:
                    if k in data[key]:
                        file, line = lines.find((key, k))
                        problems.append(Problem(str(inc_path), line, f"{key}.{k} is already defined"))
                data[key] = {**data[key], **value}
            elif key in data:
                problems.append(Problem(str(inc_path), lines.find((key,))[1], f"{key} is already set in {main}"))
            else:
                data[key] = value
    problems += _query_problems(data, lines)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(problems + _pydantic_problems(exc, lines, data)) from None
    if problems:
        raise ConfigError(problems)
    return _settle(config, main, files, lines, environ)


def _query_problems(data: dict[str, Any], lines: _Lines) -> list[Problem]:
    """Parse every watch's query or terms, even when other keys are wrong, so all problems show at once."""
    from monitor.match import QueryError, compile_watch

    problems = []
    watches = data.get("watches")
    for i, watch in enumerate(watches if isinstance(watches, list) else []):
        if not isinstance(watch, dict):
            continue
        query, terms, exclude = watch.get("query"), watch.get("terms"), watch.get("exclude")
        name = watch.get("name")
        checks: list[tuple[str, dict[str, Any]]] = []
        if isinstance(query, str):
            checks.append(("query", {"query": query}))
        elif isinstance(terms, list) and all(isinstance(t, str) for t in terms):
            checks.append(("terms", {"terms": terms}))
        if isinstance(exclude, list) and exclude and all(isinstance(t, str) for t in exclude):
            checks.append(("exclude", {"terms": exclude}))
        for key, kwargs in checks:  # shape errors are reported by the models
            try:
                compile_watch(str(name), **kwargs)
            except QueryError as exc:
                problems.append(Problem(*lines.find(("watches", i, key)), f"watch '{name}': {key}: {exc}"))
    return problems


def _settle(config: Config, main: Path, files: list[Path], lines: _Lines, environ: dict[str, str]) -> Settings:
    """Cross-field checks and derived values."""
    problems: list[Problem] = []
    warnings: list[Problem] = []

    def at(*loc: Any) -> tuple[str, int]:
        return lines.find(loc)

    for key in ("sources", "watches"):
        seen: set[str] = set()
        for i, item in enumerate(getattr(config, key)):
            if item.name in seen:
                problems.append(Problem(*at(key, i, "name"), f"{'source' if key == 'sources' else 'watch'} name '{item.name}' is used twice"))
            seen.add(item.name)

    targets: dict[str, list[str]] = {}
    unconfigured: dict[str, str] = {}
    import apprise

    options: dict[str, Target] = {}
    for name, raw in config.notify.items():
        if isinstance(raw, Target):
            target = raw
        else:
            target = Target(url=raw) if isinstance(raw, str) else Target(urls=list(raw))
        options[name] = target
        urls = target.url_list()
        if not urls:
            problems.append(Problem(*at("notify", name), f"notify target '{name}' lists no URL"))
        expanded = []
        for j, url in enumerate(urls):
            if isinstance(raw, str):
                loc: tuple[Any, ...] = ("notify", name)
            elif isinstance(raw, list):
                loc = ("notify", name, j)
            else:
                loc = ("notify", name, "url") if raw.url is not None else ("notify", name, "urls", j)
            value, missing = expand_env(url, environ)
            if missing:
                why = ", ".join(f"${{{m}}}" for m in missing)
                verb = "is" if len(missing) == 1 else "are"
                unconfigured[name] = f"{why} {verb} not set"
                warnings.append(Problem(*at(*loc), f"notify target '{name}' needs {why}, which {verb} not set; its alerts will wait", warning=True))
                continue
            if not apprise.Apprise().add(value):
                problems.append(Problem(*at(*loc), f"notify target '{name}': not a URL Apprise understands: {_redact(value)}"))
            expanded.append(value)
        targets[name] = expanded

    known_sources = {s.name for s in config.sources}
    for i, watch in enumerate(config.watches):
        for j, target in enumerate(watch.notify):
            if target not in config.notify:
                known = ", ".join(sorted(config.notify)) or "none defined"
                problems.append(Problem(*at("watches", i, "notify", j), f"watch '{watch.name}': unknown notify target '{target}' (known: {known})"))
        for j, source in enumerate(watch.sources or []):
            if source not in known_sources:
                problems.append(Problem(*at("watches", i, "sources", j), f"watch '{watch.name}': unknown source '{source}'"))
        if not watch.notify:
            warnings.append(Problem(*at("watches", i), f"watch '{watch.name}' has no notify targets; matches are recorded but not sent", warning=True))

    db, missing = expand_env(config.database, environ)
    if missing:
        problems.append(Problem(*at("database"), f"database needs ${{{missing[0]}}}, which is not set"))
    db = _resolve_sqlite(db, main.parent)
    try:
        from sqlalchemy.engine import make_url

        make_url(db)
    except Exception as exc:  # sqlalchemy raises ArgumentError for junk
        problems.append(Problem(*at("database"), f"database is not a valid SQLAlchemy URL: {exc}"))

    for j, target in enumerate(config.operator.notify):
        if target not in config.notify:
            problems.append(Problem(*at("operator", "notify", j), f"operator: unknown notify target '{target}'"))

    if config.templates:
        from monitor.render import Renderer, TemplateError

        try:
            Renderer(config.templates)
        except TemplateError as exc:
            problems.append(Problem(*at("templates"), f"templates: {exc}"))

    if problems:
        raise ConfigError(problems + warnings)
    return Settings(config, main, tuple(files), db, targets, unconfigured, tuple(warnings), options)


def _resolve_sqlite(url: str, base: Path) -> str:
    """Relative SQLite paths are taken relative to the config file, not the working directory."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith("sqlite:////") and url != "sqlite:///:memory:":
        rel = url[len(prefix):]
        if rel and not rel.startswith(":"):
            return prefix + str((base / rel).resolve())
    return url


def _redact(url: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)
