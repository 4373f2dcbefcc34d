"""Watches: the query language, compiled watchlists, matching and explaining.

A query is a boolean expression over words and phrases:
    (ICC OR "International Criminal Court") AND (warrant OR "mandat de arestare") NOT cricket
- AND, OR, NOT (upper case), parentheses, "quoted phrases"; words side by side mean AND.
- X NEAR/n Y: X and Y in the same field with at most n words between them, either order.
- title:X, text:X restrict X to the headline or the main text.
- =X or ="a phrase": exactly these diacritics (ș = ş still), no inflection.
Precedence: NOT > NEAR > AND > OR. `terms: [...]` is shorthand for "any of these phrases".

Matching: case and diacritics are folded, words are compared by their Romanian or
English dictionary form (lemma) in the article's language, so "mandat de arestare"
finds "mandatul de arestare" and "warrant" finds "warrants". Acronyms (2-6 capitals)
match only themselves, case-sensitively, as whole words.

Speed: every phrase of every watch is indexed by its first word's keys, so an article
is scanned once whatever the number of watches; only watches with a phrase present
(and the few that can hold without one) are evaluated. Before that, the article is split
on white space and each chunk looked up in a cache that says whether it holds a trigger
(the rarest word of a phrase that can wake a watch): most articles hold none and cost a
split and a dict lookup per chunk. The others are tokenised, each word's watch words
coming from a per-word cache (word as written -> ids), so a word is folded and
lemmatised once, not in every article. Both caches are bounded (Watchlist.MAX_CACHED).
"""

from __future__ import annotations

import re
from operator import sub
from dataclasses import dataclass, field
from itertools import accumulate, chain, compress, islice, repeat
from typing import Iterable, Union

from monitor.text import _WORD, LEMMA_LANGUAGES, fold, lemma, nfc, zipf
from monitor.types import Hit, Match


class QueryError(ValueError):
    def __init__(self, message: str, column: int):
        self.column = column
        super().__init__(f"column {column}: {message}")


NORMAL, EXACT, ACRONYM = "normal", "exact", "acronym"


@dataclass(frozen=True)
class Word:
    text: str  # NFC, comma letters
    kind: str
    folded: str

    def __hash__(self) -> int:  # cached: words are hashed with every phrase
        found = self.__dict__.get("_hash")
        if found is None:
            found = hash((self.text, self.kind, self.folded))
            object.__setattr__(self, "_hash", found)
        return found

    def __reduce__(self):  # the cached hash is per process: never copy or pickle it
        return (Word, (self.text, self.kind, self.folded))

    @property
    def lemmas(self) -> tuple[str, ...]:
        """Dictionary forms, one per LEMMA_LANGUAGES; computed on first use (checking a config needs none)."""
        found = self.__dict__.get("_lemmas")
        if found is None:
            if self.kind == NORMAL:
                found = tuple(lemma(self.text, lang) for lang in LEMMA_LANGUAGES)
            else:
                found = ("",) * len(LEMMA_LANGUAGES)
            object.__setattr__(self, "_lemmas", found)
        return found

    def keys(self) -> list[tuple[str, ...]]:
        """Index keys under which a token equal to this word can be found."""
        if self.kind == ACRONYM:
            return [("c", self.text)]
        if self.kind == EXACT:
            return [("x", self.text.lower())]
        return [("f", self.folded)] + [("l", lang, lem) for lang, lem in zip(LEMMA_LANGUAGES, self.lemmas)]



def _is_acronym(word: str) -> bool:
    return 2 <= len(word) <= 6 and word.isalpha() and word.isupper()


def make_word(text: str, exact: bool = False) -> Word:
    text = nfc(text)
    kind = EXACT if exact else ACRONYM if _is_acronym(text) else NORMAL
    return Word(text, kind, fold(text))


@dataclass(frozen=True)
class Phrase:
    text: str  # as written in the watch
    words: tuple[Word, ...]
    field: str | None = None  # "title", "text" or None for either

    def __hash__(self) -> int:  # cached: phrases are dict keys on every matching article
        found = self.__dict__.get("_hash")
        if found is None:
            found = hash((self.text, self.words, self.field))
            object.__setattr__(self, "_hash", found)
        return found

    def __reduce__(self):  # the cached hash is per process: never copy or pickle it
        return (Phrase, (self.text, self.words, self.field))

    @property
    def unscoped(self) -> "Phrase":
        """The same phrase in either field: the form under which occurrences are indexed."""
        if self.field is None:
            return self
        found = self.__dict__.get("_unscoped")
        if found is None:
            found = Phrase(self.text, self.words, None)
            object.__setattr__(self, "_unscoped", found)
        return found

    @property
    def label(self) -> str:
        prefix = f"{self.field}:" if self.field else ""
        exact = "=" if self.words and self.words[0].kind == EXACT else ""
        return f'{prefix}{exact}"{self.text}"' if " " in self.text else f"{prefix}{exact}{self.text}"


@dataclass(frozen=True)
class And:
    parts: tuple["Node", ...]


@dataclass(frozen=True)
class Or:
    parts: tuple["Node", ...]


@dataclass(frozen=True)
class Not:
    part: "Node"


@dataclass(frozen=True)
class Near:
    left: tuple[Phrase, ...]  # any of these ...
    right: tuple[Phrase, ...]  # ... within `distance` words of any of these
    distance: int


Node = Union[Phrase, And, Or, Not, Near]

_TOKEN = re.compile(
    r'\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<eq>=)?"(?P<q>[^"]*)(?P<qend>"?)|(?P<w>[^\s()"]+))'
)
_SCOPE = re.compile(r"^(title|text):(.*)$", re.S)
_NEAR = re.compile(r"^NEAR/(\d+)$")


def make_phrase(text: str, column: int, exact: bool = False, scope: str | None = None) -> Phrase:
    words = tuple(make_word(m.group(), exact) for m in _WORD.finditer(nfc(text)))
    if not words:
        raise QueryError(f"{text!r} contains no letters or digits to match", column)
    return Phrase(nfc(text), words, scope)


def _lex(query: str) -> list[tuple[str, str, int]]:
    """Tokens as (kind, value, column); kinds: ( ) phrase exact word AND OR NOT NEAR scope."""
    out: list[tuple[str, str, int]] = []
    pos = 0
    pending_exact = False  # "title:=" just before a quoted phrase
    while pos < len(query):
        if query[pos:].strip() == "":
            break
        m = _TOKEN.match(query, pos)
        assert m is not None  # every non-blank character starts some token
        col = m.start() + len(m.group(0)) - len(m.group(0).lstrip()) + 1
        pos = m.end()
        if m.group("lp"):
            out.append(("(", "(", col))
        elif m.group("rp"):
            out.append((")", ")", col))
        elif m.group("q") is not None:
            if not m.group("qend"):
                raise QueryError('unclosed quote: expected a closing "', col)
            out.append(("exact" if m.group("eq") or pending_exact else "phrase", m.group("q"), col))
            pending_exact = False
            continue
        else:
            word = m.group("w")
            while (scope := _SCOPE.match(word)) is not None:
                out.append(("scope", scope.group(1), col))
                word, col = scope.group(2), col + len(scope.group(1)) + 1
            if not word:
                continue
            if word in ("AND", "OR", "NOT"):
                out.append((word, word, col))
            elif word.startswith("NEAR/") or word == "NEAR":
                near = _NEAR.match(word)
                if near is None:
                    raise QueryError(f"{word!r}: expected NEAR/n with a number of words, e.g. NEAR/5", col)
                out.append(("NEAR", near.group(1), col))
            elif word == "=" and out and out[-1][0] == "scope" and query[pos : pos + 1] == '"':
                pending_exact = True
                continue
            elif word == "=":
                raise QueryError('"=" must stand right before a word or a quoted phrase, e.g. =Brașov', col)
            elif word.startswith("="):
                out.append(("exact", word[1:], col))
            else:
                out.append(("word", word, col))
    return out


def _scoped(node: Node, scope: str) -> Node:
    if isinstance(node, Phrase):
        return node if node.field else Phrase(node.text, node.words, scope)
    if isinstance(node, Not):
        return Not(_scoped(node.part, scope))
    if isinstance(node, Near):
        return Near(tuple(_scoped(p, scope) for p in node.left), tuple(_scoped(p, scope) for p in node.right), node.distance)  # type: ignore[misc]
    return type(node)(tuple(_scoped(p, scope) for p in node.parts))


def _near_side(node: Node, col: int) -> tuple[Phrase, ...]:
    if isinstance(node, Phrase):
        return (node,)
    if isinstance(node, Or) and all(isinstance(p, Phrase) for p in node.parts):
        return node.parts  # type: ignore[return-value]
    raise QueryError("NEAR needs a word, a quoted phrase or (a OR b) on each side", col)


def parse_query(query: str) -> Node:
    """Parse a query; raise QueryError naming the column and what was expected."""
    tokens = _lex(query)
    pos = 0
    end_col = len(query) + 1

    def peek() -> tuple[str, str, int] | None:
        return tokens[pos] if pos < len(tokens) else None

    def operand() -> Node:
        nonlocal pos
        tok = peek()
        if tok is None:
            raise QueryError("expected a word, a quoted phrase or '(' but the query ended", end_col)
        kind, value, col = tok
        pos += 1
        if kind == "(":
            node = parse_or()
            close = peek()
            if close is None or close[0] != ")":
                raise QueryError("expected ')' to close the '(' opened here", col)
            pos += 1
            return node
        if kind == "NOT":
            return Not(operand())
        if kind == "scope":
            return _scoped(operand(), value)
        if kind in ("word", "phrase"):
            return make_phrase(value, col)
        if kind == "exact":
            return make_phrase(value, col, exact=True)
        pos -= 1
        shown = f"NEAR/{value}" if kind == "NEAR" else value
        raise QueryError(f"expected a word, a quoted phrase or '(' but found {shown!r}", col)

    def parse_near() -> Node:
        nonlocal pos
        node = operand()
        while (tok := peek()) is not None and tok[0] == "NEAR":
            pos += 1
            right = operand()
            node = Near(_near_side(node, tok[2]), _near_side(right, tok[2]), int(tok[1]))
        return node

    def parse_and() -> Node:
        nonlocal pos
        parts = [parse_near()]
        while (tok := peek()) is not None and tok[0] not in ("OR", ")"):
            if tok[0] == "AND":
                pos += 1
            parts.append(parse_near())
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
        raise QueryError(f"unexpected {tok[1]!r}: expected AND, OR, NOT, NEAR/n or the end of the query", tok[2])
    if not positive_phrases(node):
        raise QueryError("the query only excludes (NOT ...); add something to look for", 1)
    return node


def positive_phrases(node: Node, negated: bool = False) -> list[Phrase]:
    if isinstance(node, Phrase):
        return [] if negated else [node]
    if isinstance(node, Not):
        return positive_phrases(node.part, not negated)
    if isinstance(node, Near):
        return [] if negated else [*node.left, *node.right]
    return [p for part in node.parts for p in positive_phrases(part, negated)]


def phrases(node: Node) -> Iterable[Phrase]:
    if isinstance(node, Phrase):
        yield node
    elif isinstance(node, Not):
        yield from phrases(node.part)
    elif isinstance(node, Near):
        yield from node.left
        yield from node.right
    else:
        for part in node.parts:
            yield from phrases(part)


@dataclass(frozen=True)
class CompiledWatch:
    name: str
    tree: Node
    exclude: tuple[Phrase, ...] = ()
    languages: frozenset[str] | None = None
    sources: frozenset[str] | None = None


def compile_watch(
    name: str,
    terms: list[str] | None = None,
    query: str | None = None,
    exclude: Iterable[str] = (),
    languages: Iterable[str] | None = None,
    sources: Iterable[str] | None = None,
) -> CompiledWatch:
    if query is not None:
        tree = parse_query(query)
    else:
        options = tuple(make_phrase(t, i + 1) for i, t in enumerate(terms or []))
        if not options:
            raise QueryError("no terms given", 1)
        tree = options[0] if len(options) == 1 else Or(options)
    excluded = tuple(make_phrase(t, i + 1) for i, t in enumerate(exclude))
    return CompiledWatch(
        name,
        tree,
        excluded,
        frozenset(languages) if languages is not None else None,
        frozenset(sources) if sources is not None else None,
    )


# ---- the article side ---------------------------------------------------------------------

_JOINERS = frozenset("-‐‑'’")
_findall = _WORD.findall
_UNSEEN = object()  # not in a word cache yet: truthy, unlike () for "no watch word here"
_span = re.Match.span
# An occurrence of a phrase is a plain tuple (field, first token index, last token index):
# one is made per occurrence on the hot path.
Occurrence = tuple[str, int, int]


def _chunk_steps(chunk: str) -> list[int]:
    """For each word of a chunk of text without white space: 1 if it starts a written word,
    0 if only joiners separate it from the word before ("l-a" is one word for NEAR)."""
    steps = []
    end = None
    for m in _WORD.finditer(chunk):
        gap = chunk[end : m.start()] if end is not None else " "  # white space precedes a chunk
        steps.append(0 if gap and set(gap) <= _JOINERS else 1)
        end = m.end()
    return steps


@dataclass
class Scan:
    """What was found in one article: every indexed phrase's occurrences, and the text to quote.

    `found` maps a phrase to its occurrences, title ones first, each field's in text order.
    Word offsets (for snippets) are worked out only when asked for and only as far as needed;
    written-word positions (for NEAR) from the field's white-space-separated chunks.
    """

    title: str
    text: str
    language: str
    source: str
    found: dict[Phrase, list[Occurrence]] = field(default_factory=dict)
    # field -> its chunks (body.split()) and, per chunk, a sequence with one item per word
    chunks: dict[str, tuple[list[str], list[tuple]]] = field(default_factory=dict, repr=False)
    _spans: dict[str, list[tuple[int, int]]] = field(default_factory=dict, repr=False)  # as far as needed
    _numbers: dict[str, list[int]] = field(default_factory=dict, repr=False)

    def body(self, field_name: str) -> str:
        return self.title if field_name == "title" else self.text

    def occurrences(self, phrase: Phrase) -> list[Occurrence]:
        if phrase.field is None:
            return self.found.get(phrase, [])
        return [o for o in self.found.get(phrase.unscoped, []) if o[0] == phrase.field]

    def _layout(self, field_name: str) -> tuple[list[str], list[tuple]]:
        found = self.chunks.get(field_name)
        if found is None:
            parts = self.body(field_name).split()
            found = self.chunks[field_name] = (parts, [tuple(_findall(part)) for part in parts])
        return found

    def spans(self, field_name: str, count: int) -> list[tuple[int, int]]:
        """Start and end offsets of the field's first `count` words (all, if fewer), found on demand."""
        spans = self._spans.get(field_name)
        if spans is None:
            spans = self._spans[field_name] = []
        if count > len(spans):
            at = spans[-1][1] if spans else 0  # the regex resumes there, as it would in one pass
            spans.extend(map(_span, islice(_WORD.finditer(self.body(field_name), at), count - len(spans))))
        return spans

    def word_numbers(self, field_name: str) -> list[int]:
        """Each token's position counted in written words: "l-a" is one word for NEAR, two tokens for phrases."""
        numbers = self._numbers.get(field_name)
        if numbers is None:
            parts, words = self._layout(field_name)
            counts = list(map(len, words))
            numbers = list(range(sum(counts)))  # each word is a written word of its own ...
            if max(counts, default=0) > 1:  # ... but in chunks such as "l-a"
                joined = [0] * len(numbers)
                ends = list(accumulate(counts))
                for j in compress(range(len(counts)), map((1).__lt__, counts)):
                    for k, step in enumerate(_chunk_steps(parts[j]), ends[j] - counts[j]):
                        if not step:
                            joined[k] = 1
                numbers = list(map(sub, numbers, accumulate(joined)))
            self._numbers[field_name] = numbers
        return numbers

    def snippet(self, phrase: Phrase) -> Hit | None:
        occ = self.occurrences(phrase)
        if not occ:
            return None
        field_name, first, last = occ[0]  # the earliest, title before text: the order they were found in
        spans = self.spans(field_name, last + 1)
        return Hit(phrase.text, field_name, snippet(self.body(field_name), spans[first][0], spans[last][1]))


def _holds(node: Node, scan: Scan) -> bool:
    if isinstance(node, Phrase):
        return bool(scan.occurrences(node))
    if isinstance(node, Not):
        return not _holds(node.part, scan)
    if isinstance(node, And):
        return all(_holds(p, scan) for p in node.parts)
    if isinstance(node, Or):
        return any(_holds(p, scan) for p in node.parts)
    return bool(_near_pair(node, scan))


def _near_pair(node: Near, scan: Scan) -> tuple[Phrase, Phrase] | None:
    for lp in node.left:
        for a_field, a_first, a_last in scan.occurrences(lp):
            for rp in node.right:
                for b_field, b_first, b_last in scan.occurrences(rp):
                    if a_field != b_field:
                        continue
                    numbers = scan.word_numbers(a_field)
                    if numbers[b_first] > numbers[a_last]:
                        gap = numbers[b_first] - numbers[a_last] - 1
                    else:
                        gap = numbers[a_first] - numbers[b_last] - 1
                    if gap <= node.distance:
                        return lp, rp
    return None


def _show(node: Node) -> str:
    if isinstance(node, Phrase):
        return node.label
    if isinstance(node, Not):
        return f"NOT {_show(node.part)}"
    if isinstance(node, Near):
        side = lambda ps: ps[0].label if len(ps) == 1 else "(" + " OR ".join(p.label for p in ps) + ")"  # noqa: E731
        return f"{side(node.left)} NEAR/{node.distance} {side(node.right)}"
    glue = " AND " if isinstance(node, And) else " OR "
    return "(" + glue.join(_show(p) for p in node.parts) + ")"


def explain(node: Node, scan: Scan) -> tuple[bool, str]:
    """Whether the node holds, and the clause that decided it (what matched, or what is missing)."""
    if isinstance(node, Phrase):
        ok = _holds(node, scan)
        return ok, node.label if ok else f"{node.label} not found"
    if isinstance(node, Not):
        ok, why = explain(node.part, scan)
        return (True, f"NOT {_show(node.part)}") if not ok else (False, f"{_show(node.part)} is present (excluded by NOT)")
    if isinstance(node, Near):
        pair = _near_pair(node, scan)
        if pair:
            return True, f"{pair[0].label} NEAR/{node.distance} {pair[1].label}"
        return False, f"{_show(node)} not within {node.distance} words"
    results = [explain(p, scan) for p in node.parts]
    if isinstance(node, And):
        failed = [why for ok, why in results if not ok]
        if failed:
            return False, failed[0]
        return True, " AND ".join(why for _, why in results)
    held = [why for ok, why in results if ok]
    if held:
        return True, held[0] if len(held) == 1 else " OR ".join(held)
    return False, "none of " + ", ".join(_show(p) for p in node.parts) + " found"


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


@dataclass(frozen=True)
class Verdict:
    """One watch against one article, for `monitor explain`."""

    watch: str
    matched: bool
    reason: str


@dataclass
class _TrieNode:
    children: dict[int, "_TrieNode"] = field(default_factory=dict)
    ends: list[int] = field(default_factory=list)  # ids of the phrases whose last word this is


def _word_rarity(word: Word) -> float:
    """Expected occurrences per million words (lower is rarer)."""
    highest = max(zipf(word.text, lang) for lang in LEMMA_LANGUAGES)
    return 10**highest if highest > 0 else 0.01


def _rarity(phrase: Phrase) -> float:
    """Expected occurrences per million words of the phrase's rarest word (lower is rarer)."""
    return min([1e9, *(_word_rarity(word) for word in phrase.words)])


def _rarest_word(phrase: Phrase) -> Word:
    """The word of the phrase least likely to occur: no article without it contains the phrase."""
    if len(phrase.words) == 1:
        return phrase.words[0]
    return min(phrase.words, key=_word_rarity)


def _anchors(node: Node) -> tuple[Phrase, ...] | None:
    """The cheapest set of phrases one of which must occur for the node to hold (None: no such set).

    Only watches whose anchor occurs in an article are evaluated, so a watch like
    `court AND Popescu` costs nothing on the many articles that mention a court but not Popescu.
    """
    if isinstance(node, Phrase):
        return (node,)
    if isinstance(node, Not):
        return None
    if isinstance(node, Near):
        options = [node.left, node.right]
    elif isinstance(node, And):
        options = [a for a in (_anchors(p) for p in node.parts) if a is not None]
    else:
        parts = [_anchors(p) for p in node.parts]
        if any(a is None for a in parts):
            return None
        options = [tuple(p for a in parts for p in a)]  # type: ignore[union-attr]
    if not options:
        return None
    return min(options, key=lambda phrases_: sum(_rarity(p) for p in phrases_))


_NO_IDS = {n: ((),) * n for n in range(1, 9)}  # a chunk of n words none of which is a watch word


class _Caches:
    """One language's caches, so that a word or chunk seen before costs one dict lookup."""

    __slots__ = ("words", "chunks", "flags")

    def __init__(self) -> None:
        self.words: dict[str, tuple[int, ...]] = {}  # word as written -> ids of the watch words it is (() for none: nearly all)
        self.chunks: dict[str, tuple[tuple[int, ...], ...]] = {}  # text between white space -> its words' ids
        self.flags: dict[str, bool | tuple[()]] = {}  # the same chunks -> True if a word is a trigger, else ()

    def clear(self) -> None:
        self.words.clear()
        self.chunks.clear()
        self.flags.clear()


class Watchlist:
    """All watches compiled together; `match` scans an article once."""

    MAX_OCCURRENCES = 64  # per phrase and article: enough for NEAR, bounded for huge pages
    MAX_CACHED = 16_000  # words and space-separated chunks remembered, all languages together

    def __init__(self, watches: list[CompiledWatch]):
        self.watches = watches
        # every distinct word of every phrase gets an id; a token finds the ids it satisfies
        # through its keys, and phrases are paths of ids in one trie
        self._word_id: dict[Word, int] = {}
        self._ids_by_key: dict[tuple[str, ...], list[int]] = {}
        self._trie: _TrieNode = _TrieNode()
        self._phrase_id: dict[Phrase, int] = {}
        self._phrases: list[Phrase] = []
        self._anchored: dict[Phrase, list[int]] = {}
        self._always: set[int] = set()
        self._positive: list[tuple[Phrase, ...]] = []
        # a word of every phrase that can make a watch a candidate (its rarest): an article with
        # none of these can only match the `_always` watches, and none of their phrases
        triggers: set[Phrase] = set()
        for i, watch in enumerate(watches):
            for phrase in [*phrases(watch.tree), *watch.exclude]:
                self._insert(phrase.unscoped)
            self._positive.append(tuple(positive_phrases(watch.tree)))
            anchors = _anchors(watch.tree)
            if anchors is None:
                # holds, or may hold, with none of its phrases present (`a OR NOT b`): checked on every article
                self._always.add(i)
                triggers.update(p.unscoped for p in [*phrases(watch.tree), *watch.exclude])
            else:
                for phrase in anchors:
                    self._anchored.setdefault(phrase.unscoped, []).append(i)
                    triggers.add(phrase.unscoped)
        self._triggers = frozenset(self._word_id[_rarest_word(p)] for p in triggers)
        self._by_language: dict[str, _Caches] = {}
        self._cached = 0  # entries in all the caches together

    def _insert(self, phrase: Phrase) -> None:
        node = self._trie
        for word in phrase.words:
            wid = self._word_id.get(word)
            if wid is None:
                wid = self._word_id[word] = len(self._word_id)
                for key in word.keys():
                    self._ids_by_key.setdefault(key, []).append(wid)
            node = node.children.setdefault(wid, _TrieNode())
        pid = self._phrase_id.get(phrase)
        if pid is None:
            pid = self._phrase_id[phrase] = len(self._phrases)
            self._phrases.append(phrase)
        if pid not in node.ends:
            node.ends.append(pid)

    def _caches(self, lang: str) -> _Caches:
        caches = self._by_language.get(lang)
        if caches is None:
            caches = self._by_language[lang] = _Caches()
        return caches

    def _room(self) -> None:
        """Keep the caches bounded: forget everything once full (the words come back as articles need them)."""
        self._cached += 1
        if self._cached > self.MAX_CACHED:
            for caches in self._by_language.values():
                caches.clear()
            self._cached = 1

    def _ids(self, word: str, lang: str) -> tuple[int, ...]:
        """The ids of the watch words that a token written `word` satisfies, by its four keys (cached)."""
        cache = self._caches(lang).words
        found = cache.get(word)
        if found is None:
            raw = word if word.isascii() else nfc(word)  # NFC, comma letters, case kept
            by_key = self._ids_by_key
            ids: set[int] = set()
            for key in (("c", raw), ("x", raw.lower()), ("f", fold(word)), ("l", lang, lemma(raw, lang))):
                wids = by_key.get(key)
                if wids:
                    ids.update(wids)
            self._room()
            found = cache[word] = tuple(sorted(ids)) if ids else ()
        return found

    def _chunk(self, chunk: str, lang: str) -> tuple[tuple[tuple[int, ...], ...], bool | tuple[()]]:
        """The watch-word ids of each word of a chunk of text without white space, and whether
        one of them is a trigger; both cached."""
        caches = self._caches(lang)
        found = caches.chunks.get(chunk)
        flag = caches.flags.get(chunk)
        if found is None or flag is None:
            found = tuple(self._ids(word, lang) for word in _findall(chunk))
            if not any(found):
                found = _NO_IDS.get(len(found), found)  # shared: nearly every chunk is one such
            triggers = self._triggers
            flag = any(wid in triggers for ids in found for wid in ids) or ()
            self._room()
            caches.chunks[chunk] = found
            caches.flags[chunk] = flag
        return found, flag

    def _triggered(self, lang: str, *fields: list[str]) -> bool:
        """Whether a trigger word occurs in the fields (split on white space): one dict lookup per chunk."""
        flags = self._caches(lang).flags
        get = flags.get
        for chunks in fields:
            if not any(map(get, chunks, repeat(_UNSEEN))):  # all seen before, no trigger: the common case
                continue
            for chunk in chunks:
                flag = get(chunk, _UNSEEN)
                if flag is _UNSEEN:
                    flag = self._chunk(chunk, lang)[1]
                if flag:
                    return True
        return False

    def scan(self, title: str, text: str, language: str = "ro", source: str = "") -> Scan:
        """Find every indexed phrase in the title and text: one pass, whatever the number of watches."""
        return self._scan(Scan(title, text, language, source), title.split(), text.split())

    def _scan(self, scan: Scan, *fields: list[str]) -> Scan:
        # a word never holds white space: a field's words are its chunks' words, in order
        get = self._caches(scan.language).chunks.get
        found: dict[int, list[Occurrence]] = {}  # by phrase id: an int hashes faster than a Phrase
        walk = self._walk
        first = self._trie.children
        limit = self.MAX_OCCURRENCES
        for field_name, chunks in zip(("title", "text"), fields):
            per_chunk = list(map(get, chunks, repeat(None, len(chunks))))
            if None in per_chunk:
                for i, chunk_ids in enumerate(per_chunk):
                    if chunk_ids is None:
                        per_chunk[i] = self._chunk(chunks[i], scan.language)[0]
            scan.chunks[field_name] = (chunks, per_chunk)
            ids = list(chain.from_iterable(per_chunk))  # per word: the watch words it is
            if not any(ids):
                continue
            last = len(ids) - 1
            for start in compress(range(len(ids)), ids):  # the words that are some watch word
                for wid in ids[start]:
                    child = first.get(wid)
                    if child is None:
                        continue
                    for pid in child.ends:  # one-word phrases (most) end here: no call needed
                        occ = found.get(pid)
                        if occ is None:
                            found[pid] = [(field_name, start, start)]
                        elif len(occ) < limit:
                            occ.append((field_name, start, start))
                    if child.children and start < last:
                        walk(child, ids, start, start + 1, field_name, found)
        phrases_ = self._phrases
        scan.found.update((phrases_[pid], occ) for pid, occ in found.items())
        return scan

    def _walk(self, node: "_TrieNode", ids: list[tuple[int, ...]], start: int, at: int, field_name: str, found: dict[int, list[Occurrence]]) -> None:
        for wid in ids[at]:
            child = node.children.get(wid)
            if child is None:
                continue
            for pid in child.ends:
                occ = found.get(pid)
                if occ is None:
                    found[pid] = [(field_name, start, at)]
                elif len(occ) < self.MAX_OCCURRENCES:
                    occ.append((field_name, start, at))
            if child.children and at + 1 < len(ids):
                self._walk(child, ids, start, at + 1, field_name, found)

    def _admits(self, watch: CompiledWatch, scan: Scan) -> str | None:
        """Why a watch does not apply to this article at all, or None."""
        if watch.languages is not None and scan.language not in watch.languages:
            return f"article language {scan.language} is not in {sorted(watch.languages)}"
        if watch.sources is not None and scan.source not in watch.sources:
            return f"source {scan.source} is not in {sorted(watch.sources)}"
        for phrase in watch.exclude:
            if scan.occurrences(phrase):
                return f"excluded: {phrase.label} is present"
        return None

    def match(self, title: str, text: str, language: str = "ro", source: str = "") -> list[Match]:
        """Which watches an article (its title and main text) satisfies, with the evidence."""
        fields = title.split(), text.split()
        if self._triggered(language, *fields):
            scan = self._scan(Scan(title, text, language, source), *fields)
            candidates: set[int] = set(self._always)
            for phrase in scan.found:
                candidates.update(self._anchored.get(phrase, ()))
        elif self._always:
            # no word that any watch's anchor or any `_always` watch's phrase needs: no phrase
            # these watches look at occurs, so an empty scan decides them exactly
            scan = Scan(title, text, language, source)
            candidates = self._always
        else:
            return []  # the common case: no candidate at all
        out = []
        for i in sorted(candidates):
            watch = self.watches[i]
            if self._admits(watch, scan) is not None:
                continue
            ok, clause = explain(watch.tree, scan)
            if ok:
                hits = [scan.snippet(p) for p in self._positive[i]]
                unique = tuple({(h.term, h.field): h for h in hits if h is not None}.values())
                out.append(Match(watch.name, unique, clause))
        return out

    def verdicts(self, title: str, text: str, language: str = "ro", source: str = "") -> list[Verdict]:
        """Every watch against one article: matched and why, or not and at which clause."""
        scan = self.scan(title, text, language, source)
        out = []
        for watch in self.watches:
            blocked = self._admits(watch, scan)
            if blocked is not None:
                out.append(Verdict(watch.name, False, blocked))
                continue
            ok, clause = explain(watch.tree, scan)
            out.append(Verdict(watch.name, ok, clause))
        return out
