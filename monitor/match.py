"""Watches: the query language, compiled watchlists, and matching an article.

A query is a boolean expression over phrases:
    (ICC OR "International Criminal Court") AND (warrant OR "mandat de arestare") NOT cricket
AND, OR and NOT are upper-case operators; words side by side mean AND; quotes make a phrase.
`terms: [...]` is shorthand for "any of these phrases".

Matching folds case and diacritics (ș = ş = s). All phrases of all watches go into
one dictionary keyed by their words, so an article is scanned once whatever the
number of watches; only watches whose phrases occur are evaluated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Union

from monitor.text import Token, tokenize
from monitor.types import Hit, Match


class QueryError(ValueError):
    def __init__(self, message: str, column: int):
        self.column = column
        super().__init__(f"column {column}: {message}")


@dataclass(frozen=True)
class Phrase:
    text: str  # as written in the watch
    words: tuple[str, ...]  # folded


@dataclass(frozen=True)
class And:
    parts: tuple["Node", ...]


@dataclass(frozen=True)
class Or:
    parts: tuple["Node", ...]


@dataclass(frozen=True)
class Not:
    part: "Node"


Node = Union[Phrase, And, Or, Not]

_TOKEN = re.compile(r'\s*(?:(?P<lp>\()|(?P<rp>\))|"(?P<q>[^"]*)(?P<qend>"?)|(?P<w>[^\s()"]+))')


def _phrase(text: str, column: int) -> Phrase:
    words = tuple(t.folded for t in tokenize(text))
    if not words:
        raise QueryError(f"{text!r} contains no letters or digits to match", column)
    return Phrase(text, words)


def _lex(query: str) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(query):
        if query[pos:].strip() == "":
            break
        m = _TOKEN.match(query, pos)
        assert m is not None  # every non-blank character starts some token
        col = m.start() + len(m.group(0)) - len(m.group(0).lstrip()) + 1
        if m.group("lp"):
            out.append(("(", "(", col))
        elif m.group("rp"):
            out.append((")", ")", col))
        elif m.group("q") is not None:
            if not m.group("qend"):
                raise QueryError("unclosed quote: expected a closing \"", col)
            out.append(("phrase", m.group("q"), col))
        else:
            word = m.group("w")
            out.append((word if word in ("AND", "OR", "NOT") else "word", word, col))
        pos = m.end()
    return out


def parse_query(query: str) -> Node:
    """Parse a query; raise QueryError naming the column and what was expected."""
    tokens = _lex(query)
    pos = 0
    end_col = len(query) + 1

    def peek() -> tuple[str, str, int] | None:
        return tokens[pos] if pos < len(tokens) else None

    def expect_operand() -> Node:
        nonlocal pos
        tok = peek()
        if tok is None:
            raise QueryError("expected a word, a quoted phrase or '(' but the query ended", end_col)
        kind, value, col = tok
        if kind == "(":
            pos += 1
            node = parse_or()
            close = peek()
            if close is None or close[0] != ")":
                raise QueryError("expected ')' to close the '(' opened here", col)
            pos += 1
            return node
        if kind == "NOT":
            pos += 1
            return Not(expect_operand())
        if kind in ("word", "phrase"):
            pos += 1
            return _phrase(value, col)
        raise QueryError(f"expected a word, a quoted phrase or '(' but found {value!r}", col)

    def parse_and() -> Node:
        nonlocal pos
        parts = [expect_operand()]
        while (tok := peek()) is not None and tok[0] not in ("OR", ")"):
            if tok[0] == "AND":
                pos += 1
            parts.append(expect_operand())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def parse_or() -> Node:
        nonlocal pos
        parts = [parse_and()]
        while (tok := peek()) is not None and tok[0] == "OR":
            pos += 1
            parts.append(parse_and())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    if not tokens:
        raise QueryError("the query is empty", 1)
    node = parse_or()
    if (tok := peek()) is not None:
        raise QueryError(f"unexpected {tok[1]!r}: expected AND, OR, NOT or the end of the query", tok[2])
    if not _positive_phrases(node):
        raise QueryError("the query only excludes (NOT ...); add something to look for", 1)
    return node


def _positive_phrases(node: Node, negated: bool = False) -> list[Phrase]:
    if isinstance(node, Phrase):
        return [] if negated else [node]
    if isinstance(node, Not):
        return _positive_phrases(node.part, not negated)
    return [p for part in node.parts for p in _positive_phrases(part, negated)]


def _phrases(node: Node) -> Iterable[Phrase]:
    if isinstance(node, Phrase):
        yield node
    elif isinstance(node, Not):
        yield from _phrases(node.part)
    else:
        for part in node.parts:
            yield from _phrases(part)


@dataclass(frozen=True)
class CompiledWatch:
    name: str
    tree: Node


def compile_watch(name: str, terms: list[str] | None = None, query: str | None = None) -> CompiledWatch:
    if query is not None:
        return CompiledWatch(name, parse_query(query))
    phrases = tuple(_phrase(t, i + 1) for i, t in enumerate(terms or []))
    if not phrases:
        raise QueryError("no terms given", 1)
    return CompiledWatch(name, phrases[0] if len(phrases) == 1 else Or(phrases))


def _evaluate(node: Node, present: set[tuple[str, ...]]) -> bool:
    if isinstance(node, Phrase):
        return node.words in present
    if isinstance(node, Not):
        return not _evaluate(node.part, present)
    if isinstance(node, And):
        return all(_evaluate(p, present) for p in node.parts)
    return any(_evaluate(p, present) for p in node.parts)


def snippet(text: str, start: int, end: int, width: int = 80) -> str:
    """The words around text[start:end], with the match wrapped in [[ ]]."""
    left = max(0, start - width)
    right = min(len(text), end + width)
    if left > 0:
        space = text.find(" ", left, start)
        left = space + 1 if space != -1 else left
    if right < len(text):
        space = text.rfind(" ", end, right)
        right = space if space != -1 else right
    body = f"{text[left:start]}[[{text[start:end]}]]{text[end:right]}"
    body = " ".join(body.split())
    return ("…" if left > 0 else "") + body + ("…" if right < len(text) else "")


class Watchlist:
    """All watches compiled together; `match` scans an article once."""

    def __init__(self, watches: list[CompiledWatch]):
        self.watches = watches
        self._by_words: dict[tuple[str, ...], list[Phrase]] = {}
        self._watches_of: dict[tuple[str, ...], set[int]] = {}
        for i, watch in enumerate(watches):
            for phrase in _phrases(watch.tree):
                self._by_words.setdefault(phrase.words, []).append(phrase)
                self._watches_of.setdefault(phrase.words, set()).add(i)
        self._longest = max((len(w) for w in self._by_words), default=0)
        # watches that hold with none of their phrases present (`a OR NOT b`) are checked on every article
        self._always = {i for i, watch in enumerate(watches) if _evaluate(watch.tree, set())}

    def _scan(self, text: str, tokens: list[Token], field: str, found: dict[tuple[str, ...], Hit]) -> None:
        folded = [t.folded for t in tokens]
        for i in range(len(folded)):
            for n in range(1, min(self._longest, len(folded) - i) + 1):
                key = tuple(folded[i : i + n])
                if key in self._by_words and key not in found:
                    term = self._by_words[key][0].text
                    found[key] = Hit(term, field, snippet(text, tokens[i].start, tokens[i + n - 1].end))

    def match(self, title: str, text: str) -> list[Match]:
        """Which watches an article (its title and main text) satisfies, with the evidence."""
        found: dict[tuple[str, ...], Hit] = {}
        self._scan(title, tokenize(title), "title", found)
        self._scan(text, tokenize(text), "text", found)
        candidates: set[int] = set(self._always)
        for key in found:
            candidates |= self._watches_of[key]
        present = set(found)
        out = []
        for i in sorted(candidates):
            watch = self.watches[i]
            if _evaluate(watch.tree, present):
                hits = tuple(found[p.words] for p in _positive_phrases(watch.tree) if p.words in present)
                unique = tuple({(h.term, h.field): h for h in hits}.values())
                out.append(Match(watch.name, unique))
        return out
