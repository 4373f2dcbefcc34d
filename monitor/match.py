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
(and the few that can hold without one) are evaluated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Union

from monitor.text import LEMMA_LANGUAGES, fold, lemma, nfc, tokenize
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
    from monitor.text import _WORD  # one definition of a word for queries and articles

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


@dataclass(frozen=True)
class Tok:
    start: int
    end: int
    raw: str
    lower: str
    folded: str
    lemma: str
    word: int  # position counted in written words: "l-a" is one word for NEAR, two tokens for phrases


@dataclass(frozen=True)
class Occurrence:
    field: str
    first: int  # token index
    last: int
    first_word: int  # written-word positions, for NEAR
    last_word: int


_JOINERS = frozenset("-‐‑'’")


def _toks(text: str, lang: str) -> list[Tok]:
    out: list[Tok] = []
    word = -1
    for t in tokenize(text):
        gap = text[out[-1].end : t.start] if out else " "
        if not gap or not set(gap) <= _JOINERS:
            word += 1
        out.append(Tok(t.start, t.end, t.raw, t.raw.lower(), t.folded, lemma(t.raw, lang), word))
    return out


def _token_keys(tok: Tok, lang: str) -> list[tuple[str, ...]]:
    return [("c", tok.raw), ("x", tok.lower), ("f", tok.folded), ("l", lang, tok.lemma)]


@dataclass
class Scan:
    """What was found in one article: every indexed phrase's occurrences, and the text to quote."""

    title: str
    text: str
    language: str
    source: str
    found: dict[Phrase, list[Occurrence]] = field(default_factory=dict)
    tokens: dict[str, list[Tok]] = field(default_factory=dict)

    def occurrences(self, phrase: Phrase) -> list[Occurrence]:
        if phrase.field is None:
            return self.found.get(phrase, [])
        return [o for o in self.found.get(Phrase(phrase.text, phrase.words, None), []) if o.field == phrase.field]

    def snippet(self, phrase: Phrase) -> Hit | None:
        occ = self.occurrences(phrase)
        if not occ:
            return None
        o = min(occ, key=lambda o: (o.field != "title", o.first))
        body = self.title if o.field == "title" else self.text
        toks = self.tokens[o.field]
        return Hit(phrase.text, o.field, snippet(body, toks[o.first].start, toks[o.last].end))


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
        for a in scan.occurrences(lp):
            for rp in node.right:
                for b in scan.occurrences(rp):
                    if a.field != b.field:
                        continue
                    if b.first_word > a.last_word:
                        gap = b.first_word - a.last_word - 1
                    else:
                        gap = a.first_word - b.last_word - 1
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
    ends: list[Phrase] = field(default_factory=list)


def _rarity(phrase: Phrase) -> float:
    """Expected occurrences per million words of the phrase's rarest word (lower is rarer)."""
    from wordfreq import zipf_frequency

    best = 1e9
    for word in phrase.words:
        zipf = max(zipf_frequency(word.text, lang) for lang in LEMMA_LANGUAGES)
        best = min(best, 10**zipf if zipf > 0 else 0.01)
    return best


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


class Watchlist:
    """All watches compiled together; `match` scans an article once."""

    MAX_OCCURRENCES = 64  # per phrase and article: enough for NEAR, bounded for huge pages

    def __init__(self, watches: list[CompiledWatch]):
        self.watches = watches
        # every distinct word of every phrase gets an id; a token finds the ids it satisfies
        # through its keys, and phrases are paths of ids in one trie
        self._word_id: dict[Word, int] = {}
        self._ids_by_key: dict[tuple[str, ...], list[int]] = {}
        self._trie: _TrieNode = _TrieNode()
        self._anchored: dict[Phrase, list[int]] = {}
        self._always: set[int] = set()
        for i, watch in enumerate(watches):
            for phrase in [*phrases(watch.tree), *watch.exclude]:
                self._insert(Phrase(phrase.text, phrase.words, None))
            anchors = _anchors(watch.tree)
            if anchors is None:
                # holds, or may hold, with none of its phrases present (`a OR NOT b`): checked on every article
                self._always.add(i)
            else:
                for phrase in anchors:
                    self._anchored.setdefault(Phrase(phrase.text, phrase.words, None), []).append(i)

    def _insert(self, phrase: Phrase) -> None:
        node = self._trie
        for word in phrase.words:
            wid = self._word_id.get(word)
            if wid is None:
                wid = self._word_id[word] = len(self._word_id)
                for key in word.keys():
                    self._ids_by_key.setdefault(key, []).append(wid)
            node = node.children.setdefault(wid, _TrieNode())
        if phrase not in node.ends:
            node.ends.append(phrase)

    def scan(self, title: str, text: str, language: str = "ro", source: str = "") -> Scan:
        """Find every indexed phrase in the title and text: one pass, whatever the number of watches."""
        scan = Scan(title, text, language, source)
        for field_name, body in (("title", title), ("text", text)):
            toks = _toks(body, language)
            scan.tokens[field_name] = toks
            ids: list[set[int]] = []
            for tok in toks:
                found: set[int] = set()
                for key in _token_keys(tok, language):
                    found.update(self._ids_by_key.get(key, ()))
                ids.append(found)
            for start in range(len(toks)):
                self._walk(self._trie, ids, toks, start, start, field_name, scan)
        return scan

    def _walk(self, node: "_TrieNode", ids: list[set[int]], toks: list[Tok], start: int, at: int, field_name: str, scan: Scan) -> None:
        if at >= len(toks):
            return
        for wid in ids[at]:
            child = node.children.get(wid)
            if child is None:
                continue
            for phrase in child.ends:
                occ = scan.found.setdefault(phrase, [])
                if len(occ) < self.MAX_OCCURRENCES:
                    occ.append(Occurrence(field_name, start, at, toks[start].word, toks[at].word))
            if child.children:
                self._walk(child, ids, toks, start, at + 1, field_name, scan)

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
        scan = self.scan(title, text, language, source)
        candidates: set[int] = set(self._always)
        for phrase in scan.found:
            candidates.update(self._anchored.get(phrase, ()))
        out = []
        for i in sorted(candidates):
            watch = self.watches[i]
            if self._admits(watch, scan) is not None:
                continue
            ok, clause = explain(watch.tree, scan)
            if ok:
                hits = [scan.snippet(p) for p in positive_phrases(watch.tree)]
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
