"""Grouping articles into stories, across outlets and across Romanian and English.

Two kinds of evidence, both computed offline on the CPU:
- near-copies: MinHash signatures of word shingles (bit for bit those of
  datasketch.MinHash(num_perm=NUM_PERM, seed=1), scheme "affine32") in a banded
  locality-sensitive index find syndicated wire copy without scanning every stored article;
- what survives translation: people, places, organisations, numbers and dates,
  reduced to language-neutral keys (a gazetteer of places in both languages, a
  transliteration skeleton for names: Bișkek/Bishkek, Sadîr/Sadyr, Tokaev/Tokayev,
  numbers 1.700/1,700), weighted by rarity among recent articles.
A new article is compared with each candidate story as a whole (how many of the
story's articles share each key), not with its single closest article, and joins
the best story above a threshold, or starts its own.

Feature extraction is pure; StoryIndex is an in-memory index over the story window,
rebuilt from stored features at start-up. Extraction splits an article into words
once; what a word's spelling says (folded form, lemma, whether it can start a
gazetteer name, its name key) is computed on first sight and kept, so an article
costs a few dictionary look-ups per word plus one SHA-1 per shingle.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import re
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from sys import intern
from itertools import accumulate, compress, islice, repeat
from operator import itemgetter
from pathlib import Path
from typing import Iterable

import numpy as np

from monitor.text import LEMMA_LANGUAGES, PerWord, dictionary_form, fold, lemma, nfc, zipf

SHINGLE = 4  # words per shingle
NUM_PERM = 64
NEAR_COPY = 0.5  # estimated Jaccard of shingles above which two texts are one story
MIN_COPY_WORDS = 40  # shorter texts (teasers, one-liners) are grouped by names and figures only
WINDOW = timedelta(hours=72)  # an article may join a story first seen this long ago
JOIN = 0.4  # entity evidence (0..1) needed to join a story
MIN_SHARED = 2  # distinct rare, specific keys (names, figures, dates) a new article must share with a story
RARE_KEYS = 12  # candidate stories come from the article's rarest keys only
POSTINGS = 200  # most recent stories looked up per key
CANDIDATES = 20  # stories scored in full: those sharing the most rare keys

_WORD = re.compile(r"\w+(?:[-'’]\w+)*", re.UNICODE)
_TOKEN = re.compile("(" + _WORD.pattern + ")", re.UNICODE)  # the same words; split() also gives what lies between
_WORD_PART = re.compile(r"[-'’]")  # what joins the \w runs of one word
_DIGIT = re.compile(r"\d")
_NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:[.,  ]\d{3})+|\d+)(?:[.,](\d+))?(?![\w])")
_SENTENCE_END_CHARS = frozenset(".!?…:»”\"")  # a word after one of these (and spaces) may begin a sentence
_MONTHS = {
    **{m: i + 1 for i, m in enumerate("ianuarie februarie martie aprilie mai iunie iulie august septembrie octombrie noiembrie decembrie".split())},
    **{m: i + 1 for i, m in enumerate("january february march april may june july august september october november december".split())},
}
_DATE = re.compile(
    r"\b(\d{1,2})\s+(" + "|".join(_MONTHS) + r")\b|\b(" + "|".join(_MONTHS) + r")\s+(\d{1,2})\b", re.IGNORECASE
)
_MONTH = re.compile("|".join(_MONTHS), re.IGNORECASE)  # fullmatch: a \w run _DATE takes for a month
_RO_CASE_ENDINGS = ("ului", "iei", "ilor", "ei", "ii", "ul", "lor")


# ---- language-neutral keys ------------------------------------------------------------------


_SKELETON_LETTERS = str.maketrans({"w": "v", "q": "k", "c": "k", "y": "i", "x": "k"})


def skeleton(word: str) -> str:
    """A transliteration-proof key for a name: Bishkek/Bișkek -> 'bskk', Sadyr/Sadîr -> 'sdr'."""
    w = fold(word).replace("-", "")
    for a, b in (("sch", "s"), ("sh", "s"), ("ch", "k"), ("kh", "h"), ("zh", "j"), ("ph", "f"), ("tz", "t"), ("ts", "t")):
        w = w.replace(a, b)
    w = w.translate(_SKELETON_LETTERS)
    consonants = re.sub(r"[aeiou]", "", w)
    out = "".join(c for i, c in enumerate(consonants) if i == 0 or c != consonants[i - 1])
    return out if len(out) >= 2 else w


@lru_cache(maxsize=1)
def _gazetteer() -> tuple[dict[tuple[str, ...], str], dict[tuple[str, ...], str], int]:
    """(folded name words -> id, case-sensitive acronym -> id, longest name in words).

    Each name is also keyed by its words' Romanian dictionary forms, so that
    "Organizației Tratatului de Securitate Colective" finds the CSTO.
    """
    import yaml

    folded: dict[tuple[str, ...], str] = {}
    exact: dict[tuple[str, ...], str] = {}
    data = yaml.safe_load((Path(__file__).with_name("gazetteer.yaml")).read_text(encoding="utf-8"))
    try:
        import gettext

        import pycountry

        ro = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["ro"], fallback=True)
        for country in pycountry.countries:
            names = [country.name, ro.gettext(country.name), getattr(country, "common_name", "")]
            data.setdefault(country.alpha_2, [])
            data[country.alpha_2] = list(data[country.alpha_2]) + [n for n in names if n and "," not in n]
    except ImportError:  # pragma: no cover - pycountry is a dependency; the hand-written list still works
        pass
    for key, names in data.items():
        for name in names:
            words = tuple(_WORD.findall(name))
            if len(words) == 1 and words[0].isupper() and len(words[0]) <= 5:
                exact.setdefault(words, key)
            else:
                folded.setdefault(tuple(fold(w) for w in words), key)
                folded.setdefault(tuple("=" + lemma(w, "ro") for w in words), key)
    longest = max(len(k) for k in [*folded, *exact])
    return folded, exact, longest


@lru_cache(maxsize=1)
def _gazetteer_starts() -> frozenset[str]:
    """First words (folded, or =lemma) of every multi-form gazetteer name: most text words start none."""
    folded, _, _ = _gazetteer()
    return frozenset(k[0] for k in folded)


@lru_cache(maxsize=1)
def _gazetteer_prefixes() -> frozenset[tuple[str, ...]]:
    """The first words of every gazetteer name of several (folded or =lemma) words: a scan stops at the first miss."""
    folded, _, _ = _gazetteer()
    return frozenset(k[:n] for k in folded for n in range(1, len(k)))


@lru_cache(maxsize=1)
def _gazetteer_second_words() -> dict[str, frozenset[str]]:
    """First word -> the second words of the gazetteer names of several words that start with it."""
    folded, _, _ = _gazetteer()
    second: dict[str, set[str]] = {}
    for k in folded:
        if len(k) >= 2:
            second.setdefault(k[0], set()).add(k[1])
    return {first: frozenset(words) for first, words in second.items()}


def _strip_case(word: str) -> str:
    for ending in _RO_CASE_ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 4:
            return word[: -len(ending)]
    return word


@lru_cache(maxsize=8_000)
def _number_key(whole: str, decimals: str | None) -> str | None:
    digits = re.sub(r"\D", "", whole)
    if not digits or (len(digits) == 1 and not decimals):
        return None
    return f"#{int(digits)}" + (f".{decimals}" if decimals else "")


@dataclass(frozen=True)
class Entities:
    keys: frozenset[str]
    title_keys: frozenset[str]


def entities(title: str, text: str, language: str) -> Entities:
    """Names, places, organisations, numbers and dates of an article as language-neutral keys."""
    return _Article(title, text).entities(language)


# ---- what a word's spelling says, computed once per spelling ---------------------------------


def _spelling(word: str) -> tuple[str, bytes, str | None, bool, int, tuple[tuple[int, ...], tuple[int, ...], bool] | None]:
    """(folded, folded as UTF-8 for shingles, the word as written if it starts lower case,
    a capitalised word, 0/1/2: at most 3 letters / longer / longer and capitalised, _figures())."""
    folded = fold(word)
    # compared with diacritics: "Putin" is a name even where "puțin" (little) is in the text
    lower = nfc(word) if word[:1].islower() else None
    capital = word[:1].isupper()
    return folded, folded.encode(), lower, capital and not word.isdigit(), 0 if len(word) <= 3 else 2 if capital else 1, _figures(word)


def _figures(word: str) -> tuple[tuple[int, ...], tuple[int, ...], bool] | None:
    """Where in the word a number can start, where a day of a date (1-2 digits alone) stands, whether
    it is digits only; None: no digits.

    A _NUMBER or _DATE match can start only at a digit that begins a \\w run: at the start of a
    word, or after a hyphen or apostrophe inside one (COVID-19). Only there is the regex tried."""
    if not _DIGIT.search(word):
        return None
    numbers, days, at = [], [], 0
    for run in _WORD_PART.split(word):
        if run[0].isdecimal():
            numbers.append(at)
            if len(run) <= 2 and run.isdecimal():
                days.append(at)
        at += len(run) + 1
    return tuple(numbers), tuple(days), word.isdecimal()


def _month_edges(word: str) -> tuple[bool, int]:
    """(the word's first \\w run is a month, as _DATE reads it; the length of its last run if that is a month, else 0)."""
    runs = _WORD_PART.split(word)
    return _MONTH.fullmatch(runs[0]) is not None, len(runs[-1]) if _MONTH.fullmatch(runs[-1]) else 0


def _gazetteer_start(word: str, romanian: bool) -> tuple[str | None, frozenset[str], frozenset[str]] | None:
    """None if the word cannot begin a place or organisation; else (what it names alone, if anything;
    the folded forms and the =lemmas a next word needs to make a longer name). Looked up by its folded
    form, in Romanian also by its dictionary form; an acronym (NATO, ICC) only as written."""
    folded_gaz, exact_gaz, _ = _gazetteer()
    starts, second = _gazetteer_starts(), _gazetteer_second_words()
    form = (_SPELLING[word][0],)
    by_lemma = (_LEMMA_KEY[word],) if romanian else None
    acronym = word if word.isupper() and len(word) <= 5 else None
    if not (form[0] in starts or (by_lemma and by_lemma[0] in starts) or (acronym and (acronym,) in exact_gaz)):
        return None
    if acronym:
        alone = exact_gaz.get((acronym,))
    else:
        alone = folded_gaz.get(form)
        if alone is None and by_lemma:
            alone = folded_gaz.get(by_lemma)
    none: frozenset[str] = frozenset()
    return alone, second.get(form[0], none), second.get(by_lemma[0], none) if by_lemma else none


def _name(word: str, romanian: bool) -> tuple[str, str | None]:
    """(the word as written, lower case: an ordinary word if the text also has it so; its name key, None if too short)."""
    w = re.sub(r"['’]s$", "", word)  # Romania's -> Romania
    f = fold(w)
    if len(f) < 3:
        return nfc(w).lower(), None
    return nfc(w).lower(), "~" + skeleton(_strip_case(f) if romanian else f)


_SPELLING: PerWord = PerWord(_spelling)
_LEMMA_KEY: PerWord = PerWord(lambda w: "=" + lemma(w, "ro"))
_STARTS_RO: PerWord = PerWord(lambda w: _gazetteer_start(w, romanian=True))
_STARTS: PerWord = PerWord(lambda w: _gazetteer_start(w, romanian=False))
_NAME_RO: PerWord = PerWord(lambda w: _name(w, True))
_NAME: PerWord = PerWord(lambda w: _name(w, False))
_MONTH_EDGES: PerWord = PerWord(_month_edges)


def _tokens(text: str) -> tuple[list[str], list[int]]:
    """The words of a text (those _WORD finds) and where each starts."""
    parts = _TOKEN.split(text)
    offsets = list(accumulate(map(len, parts), initial=0))
    return parts[1::2], offsets[1:-1:2]


class _Article:
    """An article split into words once: the words of title + "\\n" + text, the first `in_title` of them the title's."""

    def __init__(self, title: str, text: str):
        self.title = title
        self.body = title + "\n" + text
        self.words, self.starts = _tokens(self.body)
        self.in_title = bisect_left(self.starts, len(title))
        # words never run across the "\n": the text's own words are the ones after the title's
        self.text_from = self.in_title if text else 0
        spellings = list(map(_SPELLING.__getitem__, self.words))
        # one tuple per fact, word by word (see _spelling)
        self.folded, self.encoded, self.lower, self.capital, self.long, self.figures = zip(*spellings) if spellings else ((),) * 6
        self._initial: dict[int, bool] = {}
        self._title_case: dict[int, bool] = {}

    def entities(self, language: str) -> Entities:
        return Entities(frozenset(self.keys(len(self.words), self.body, language)), frozenset(self.keys(self.in_title, self.title, language)))

    def shingles(self) -> list[bytes]:
        return _shingles(self.encoded[self.text_from :])

    @property
    def word_count(self) -> int:
        return len(self.words) - self.text_from

    def keys(self, n: int, text: str, language: str) -> set[str]:
        """Keys of `text`, which is the body (n: all words) or the title alone (n: the title's words).

        The same keys as a scan of `text` on its own: a name may not run on from the title into the
        text, and a title word is capitalised elsewhere only if it is so in the title."""
        folded_gaz, _, longest = _gazetteer()
        longer = _gazetteer_prefixes()
        romanian = language == "ro"
        words, folded = self.words, self.folded
        keys: set[str] = set()
        used: set[int] = set()
        used_until = 0  # words before this one are part of a place or organisation found already
        # places and organisations, one to several words, in either language: the longest name wins
        can_start = list(map((_STARTS_RO if romanian else _STARTS).__getitem__, islice(words, n)))
        for i in compress(range(n), can_start):
            if i < used_until:
                continue
            hit, next_forms, next_lemmas = can_start[i]
            size = 1
            if i + 1 < n and (folded[i + 1] in next_forms or (next_lemmas and _LEMMA_KEY[words[i + 1]] in next_lemmas)):
                lemmas = [_LEMMA_KEY[words[i]]] if romanian else []
                for m in range(2, min(longest, n - i) + 1):
                    by_form = folded[i : i + m]
                    if romanian:
                        lemmas.append(_LEMMA_KEY[words[i + m - 1]])
                    by_lemma = tuple(lemmas) if romanian else None
                    found = folded_gaz.get(by_form)
                    if found is None and by_lemma:
                        found = folded_gaz.get(by_lemma)
                    if found is not None:
                        hit, size = found, m
                    if not (by_form in longer or (by_lemma and by_lemma in longer)):
                        break
            if hit is not None:
                keys.add("@" + hit)
                used_until = i + size
                used.update(range(i, used_until))
        # names: capitalised words that are not merely sentence-initial and not ordinary words
        lowered = set(islice(self.lower, n))
        names = _NAME_RO if romanian else _NAME
        capitalised: Counter | None = None
        for i in compress(range(n), self.capital):
            if i in used:
                continue
            written, key = names[words[i]]
            if key is None or written in lowered:
                continue
            # mid-sentence capitals are names; at a sentence start, only if capitalised elsewhere too or not an everyday word
            if capitalised is None:
                capitalised = Counter(compress(islice(folded, 1, n), islice(self.capital, 1, n)))
            elsewhere = capitalised[folded[i]] > (1 if i > 0 else 0)
            if not elsewhere and self.initial(i) and _common(written, language, 3.0):
                continue
            keys.add(key)
        # numbers and dates: what _NUMBER.finditer(text) and _DATE.finditer(text) find. A match starts at a
        # digit that begins a \w run, so the regexes are tried only there, and for a date only next to a month
        starts = self.starts
        resume = 0  # where finditer would look next: the end of the last number
        days: list[tuple[int, int | None, bool]] = []  # (the day, where the month before it starts, a month after it)
        for i in compress(range(n), self.figures):
            at, word = starts[i], words[i]
            number_parts, day_parts, plain = self.figures[i]
            if plain and at >= resume:
                # digits alone (2026, 24): the number is the word itself, unless a dot, a comma or,
                # after at most three digits, a space may join it to more digits (1.700, 6,2, 1 700)
                end = at + len(word)
                after = text[end : end + 1]
                if text[at - 1 : at] not in (".", ",") and after not in (".", ",") and (after != " " or len(word) > 3):
                    resume = end
                    key = _number_key(word, None)
                    if key:
                        keys.add(key)
                    number_parts = ()
            for p in number_parts:
                if at + p >= resume and (m := _NUMBER.match(text, at + p)):
                    resume = m.end()
                    key = _number_key(m.group(1), m.group(2))
                    if key:
                        keys.add(key)
            for p in day_parts:
                month_before = None  # "November 26": the day begins its word, the word before ends in a month
                if p == 0 and i > 0 and (month := _MONTH_EDGES[words[i - 1]][1]):
                    month_before = starts[i - 1] + len(words[i - 1]) - month
                month_after = i + 1 < n and _MONTH_EDGES[words[i + 1]][0]  # "26 noiembrie"
                if month_before is not None or month_after:
                    days.append((at + p, month_before, month_after))
        if days:
            keys.update(_dates(text, days))
        return keys

    def initial(self, i: int) -> bool:
        """Whether word i starts the text, a sentence, a quote, a line, or stands in a Headline Case line."""
        found = self._initial.get(i)
        if found is None:
            body, start = self.body, self.starts[i]
            before = body[max(0, start - 3) : start]
            stripped = before.rstrip()  # a sentence ends just before: a mark, then only spaces
            found = self._initial[i] = (
                i == 0
                or (stripped != "" and stripped[-1] in _SENTENCE_END_CHARS)
                or before[-1:] in ("\n", "„", "“", '"', "(")
                or self.title_case_line(start)
            )
        return found

    def title_case_line(self, at: int) -> bool:
        """Headline Case Like This: every word's capital says nothing."""
        body = self.body
        start = body.rfind("\n", 0, at) + 1
        found = self._title_case.get(start)
        if found is None:
            end = body.find("\n", at)
            line = self.long[bisect_left(self.starts, start) : bisect_left(self.starts, end if end != -1 else len(body))]
            long_words = len(line) - line.count(0)
            found = self._title_case[start] = long_words >= 3 and line.count(2) >= 0.8 * long_words
        return found


def _dates(text: str, days: list[tuple[int, int | None, bool]]) -> set[str]:
    """Month and day of the dates _DATE.finditer(text) finds, given where the numbers of one or two digits
    standing alone are, with where the month before each starts ("November 26") and whether a month
    follows it ("26 noiembrie"): a date starts at its month or at its day, and only there is _DATE tried."""
    keys: set[str] = set()
    resume = 0  # where finditer would look next: the end of the last date found
    for at, month_before, month_after in days:
        if at < resume:
            continue
        for start in (month_before, at if month_after else None):
            if start is None or start < resume:
                continue
            m = _DATE.match(text, start)
            if m:
                d, month = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
                number = _MONTHS.get(month.lower())  # None for look-alikes the case-free pattern lets in ("ıanuarie")
                if number is None:
                    continue
                keys.add(f"date:{number:02d}-{int(d):02d}")
                resume = m.end()
                break
    return keys


@lru_cache(maxsize=8_000)
def _common(word: str, language: str, threshold: float = 5.0) -> bool:
    """An ordinary word (lower case, diacritics kept) capitalised at a headline or sentence start, not a name."""
    base = dictionary_form(word, language) if language in LEMMA_LANGUAGES else word
    if base != word and zipf(base, language) >= 4.0:
        return True
    return zipf(word, language) >= threshold


# ---- near-copies -------------------------------------------------------------------------------


def _shingles(encoded: tuple[bytes, ...] | list[bytes]) -> list[bytes]:
    if len(encoded) < SHINGLE:
        return [b" ".join(encoded)] if encoded else []
    return list(map(b" ".join, zip(*(encoded[i:] for i in range(SHINGLE)))))


def shingles(text: str) -> list[bytes]:
    return _shingles([_SPELLING[w][1] for w in _WORD.findall(text)])


_PERM_SEED = 1


def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch.MinHash's affine32 permutations h -> a*h + b mod 2^32 (its _init_permutations), made once."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


_PERM_A, _PERM_B = _permutations(NUM_PERM, _PERM_SEED)
_EMPTY_SIGNATURE = np.full(NUM_PERM, (1 << 32) - 1, dtype=np.uint64)  # datasketch's start: the largest 32-bit hash
_sha1 = hashlib.sha1
_FMIX = np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16)


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, as datasketch pre-mixes each hash (uint32 arithmetic wraps); in place."""
    s1, m1, s2, m2, s3 = _FMIX
    h ^= h >> s1
    h *= m1
    h ^= h >> s2
    h *= m2
    h ^= h >> s3
    return h


def _minhash(shingles: list[bytes]) -> np.ndarray:
    """datasketch.MinHash(num_perm=NUM_PERM, seed=1).update_batch(shingles).hashvalues, as uint64.

    That is datasketch 2's default "affine32" scheme; datasketch before 2.0 had another ("legacy"),
    whose signatures these are not (tests/unit/test_stories.py compares with the installed datasketch)."""
    if not shingles:
        return _EMPTY_SIGNATURE.copy()
    # sha1_hash32: the first 4 bytes of each SHA-1 digest, little-endian
    digests = b"".join([_sha1(s).digest() for s in shingles])
    hashes = _fmix32(np.frombuffer(digests, dtype="<u4")[::5].astype(np.uint32))
    return (hashes[:, None] * _PERM_A + _PERM_B).min(axis=0).astype(np.uint64)


def signature(text: str) -> np.ndarray:
    """MinHash signature (NUM_PERM uint64) of the text's word shingles."""
    return _minhash(shingles(text))


def resemblance(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures."""
    return float(np.mean(a == b))


# ---- the index ---------------------------------------------------------------------------------


@dataclass
class Features:
    language: str
    signature: np.ndarray
    entities: Entities
    words: int = 0  # a text this short is not judged a copy by its shingles alone

    def to_json(self) -> dict:
        return {
            "language": self.language,
            "words": self.words,
            "signature": [int(x) for x in self.signature],
            "keys": sorted(self.entities.keys),
            "title_keys": sorted(self.entities.title_keys),
        }

    @classmethod
    def from_json(cls, data: dict) -> "Features":
        return cls(
            data["language"],
            np.array(data["signature"], dtype=np.uint64),
            Entities(frozenset(data["keys"]), frozenset(data["title_keys"])),
            data.get("words", 0),
        )


def features(title: str, text: str, language: str) -> Features:
    article = _Article(title, text)  # the signature and word count are of the text (the title if there is none)
    return Features(language, _minhash(article.shingles()), article.entities(language), article.word_count)


@dataclass(slots=True)
class _Story:
    """A story's span and how many of its articles have each key.

    Most stories have one article: until a second joins, the counts are that article's own
    key tuples (each key once), not a Counter of their own.
    """

    first_seen: datetime
    last_seen: datetime
    size: int = 0
    keys: Counter | tuple[str, ...] = ()
    title_keys: Counter | tuple[str, ...] = ()

    def join(self, keys: tuple[str, ...], title_keys: tuple[str, ...]) -> None:
        self.size += 1
        if self.size == 1:
            self.keys, self.title_keys = keys, title_keys
            return
        if type(self.keys) is tuple:
            self.keys, self.title_keys = Counter(self.keys), Counter(self.title_keys)
        self.keys.update(keys)
        if title_keys:
            self.title_keys.update(title_keys)

    def leave(self, keys: tuple[str, ...], title_keys: tuple[str, ...]) -> None:
        self.size -= 1
        if type(self.keys) is tuple:
            self.keys = self.title_keys = ()
        else:
            self.keys.subtract(keys)
            self.title_keys.subtract(title_keys)

    def count(self, key: str) -> int:
        return self.keys.get(key, 0) if type(self.keys) is Counter else int(key in self.keys)

    def title_count(self, key: str) -> int:
        return self.title_keys.get(key, 0) if type(self.title_keys) is Counter else int(key in self.title_keys)

    def counts(self) -> Iterable[tuple[str, int]]:
        return self.keys.items() if type(self.keys) is Counter else zip(self.keys, repeat(1))


@dataclass(slots=True)
class _Indexed:
    """What the index keeps of an article: a few hundred bytes, for tens of thousands of them."""

    story_id: int
    seen: datetime
    language: str
    words: int
    signature: bytes  # the MinHash signature's values, packed (see _packed)
    keys: tuple[str, ...]
    title_keys: tuple[str, ...]


def _packed(signature: np.ndarray) -> bytes:
    """A signature's values as uint32 (MinHash values are 32-bit hashes): half the bytes of uint64.
    Anything larger, which _minhash never makes, is kept whole."""
    if int(signature.max(initial=0)) < 1 << 32:
        return signature.astype(np.uint32).tobytes()
    return signature.astype(np.uint64).tobytes()


def _unpacked(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.uint32 if len(data) == NUM_PERM * 4 else np.uint64)


@dataclass(frozen=True)
class Placement:
    story_id: int | None
    score: float
    reason: str


class StoryIndex:
    """Recent articles and stories: near-copy LSH, key postings, story profiles, key rarity."""

    def __init__(self, window: timedelta = WINDOW):
        self.window = window
        self._lsh = _Bands()
        self._articles: dict[int, _Indexed] = {}
        self._stories: dict[int, _Story] = {}
        self._postings: dict[str, int | dict[int, None]] = {}  # key -> its story, or its stories (insertion ordered, newest last)
        self._df: Counter = Counter()  # key -> recent articles having it
        self.loaded_upto = 0  # highest article id in the index

    def __len__(self) -> int:
        return len(self._articles)

    def _weight(self, key: str) -> float:
        n = len(self._articles) + 1
        return math.log((n + 1) / (self._df.get(key, 0) + 0.5)) * _KIND_WEIGHT[key]

    def add(self, article_id: int, story_id: int, feats: Features, seen: datetime) -> None:
        if article_id in self._articles:
            return
        keys = tuple(map(intern, feats.entities.keys))
        title_keys = tuple(map(intern, feats.entities.title_keys))
        self._articles[article_id] = _Indexed(story_id, seen, feats.language, feats.words, _packed(feats.signature), keys, title_keys)
        self.loaded_upto = max(self.loaded_upto, article_id)
        self._lsh.insert(article_id, feats.signature)
        story = self._stories.get(story_id)
        if story is None:
            story = self._stories[story_id] = _Story(seen, seen)
        story.join(keys, title_keys)
        story.last_seen = max(story.last_seen, seen)
        story.first_seen = min(story.first_seen, seen)
        postings = self._postings
        for key in keys:
            self._df[key] += 1
            # one story per key is the common case: held as a bare id, a dict only once shared
            held = postings.get(key)
            if held is None or held == story_id:
                postings[key] = story_id
            elif isinstance(held, int):
                postings[key] = {held: None, story_id: None}
            else:
                held.pop(story_id, None)
                held[story_id] = None

    def _stories_with(self, key: str) -> Iterable[int]:
        """Stories having a key, newest first."""
        held = self._postings[key]
        return (held,) if isinstance(held, int) else reversed(held)

    def forget_before(self, cutoff: datetime) -> None:
        """Drop articles seen before the cutoff; a story stays joinable while it has recent articles."""
        old = [a for a, kept in self._articles.items() if kept.seen < cutoff]
        for article_id in old:
            kept = self._articles.pop(article_id)
            story_id = kept.story_id
            self._lsh.remove(article_id, None)
            story = self._stories[story_id]
            story.leave(kept.keys, kept.title_keys)
            for key in kept.keys:
                self._df[key] -= 1
                if self._df[key] <= 0:
                    del self._df[key]
                if story.count(key) <= 0:
                    held = self._postings.get(key)
                    if held == story_id:
                        del self._postings[key]
                    elif isinstance(held, dict):
                        held.pop(story_id, None)
                        if not held:
                            del self._postings[key]
            if story.size <= 0:
                del self._stories[story_id]

    def place(self, feats: Features, now: datetime) -> Placement:
        """The story this article belongs to (None: a new story), with the evidence."""
        for article_id in self._lsh.query(feats.signature) if feats.words >= MIN_COPY_WORDS else ():
            other = self._articles[article_id]
            story_id = other.story_id
            if other.words < MIN_COPY_WORDS:
                continue
            if other.language == feats.language and resemblance(feats.signature, _unpacked(other.signature)) >= NEAR_COPY:
                if now - self._stories[story_id].first_seen <= self.window:
                    return Placement(story_id, 1.0, f"near-copy of article {article_id}")
        mine = feats.entities.keys
        if not mine:
            return Placement(None, 0.0, "no names, places or numbers to compare")
        weights = {k: self._weight(k) for k in mine}
        best = Placement(None, 0.0, "no story shares enough names, places or numbers")
        total = sum(weights.values())
        median = sorted(weights.values())[len(weights) // 2]
        possible = self._possible(mine, weights, median)
        if possible is not None and not possible:
            return best  # no story has MIN_SHARED of the keys that count: none could be joined
        # the rarest keys that some recent story has: only those can lead to a story
        rare = sorted((k for k in mine if k in self._postings), key=lambda k: -weights[k])[:RARE_KEYS]
        votes: dict[int, float] = {}
        for key in rare:
            w = weights[key]
            for story_id in islice(self._stories_with(key), POSTINGS):
                votes[story_id] = votes.get(story_id, 0) + w
        known = dict(weights)  # key -> weight, for the candidate stories' keys too: the index does not change meanwhile
        for story_id, _ in heapq.nlargest(CANDIDATES, votes.items(), key=itemgetter(1)):  # as Counter.most_common orders them
            if possible is not None and story_id not in possible:
                continue  # it would share fewer than MIN_SHARED counting keys (see _evidence)
            story = self._stories.get(story_id)
            if story is None or story.size <= 0 or now - story.first_seen > self.window:
                continue
            score, shared = self._evidence(feats, weights, total, median, story, known)
            if shared >= MIN_SHARED and score >= JOIN and score > best.score:
                best = Placement(story_id, score, f"shares {shared} rare names/places/numbers (score {score:.2f})")
        return best

    def _possible(self, mine: frozenset[str], weights: dict[str, float], median: float) -> set[int] | None:
        """The stories that have at least MIN_SHARED of the article's counting keys (specific, weight
        at least the median): only they can pass _evidence. None when a key is too common to list."""
        hits: dict[int, int] = {}
        for key in mine:
            if key not in self._postings or weights[key] < median or not _specific(key):
                continue
            held = self._postings[key]
            if isinstance(held, dict) and len(held) > POSTINGS:
                return None
            for story_id in (held,) if isinstance(held, int) else held:
                hits[story_id] = hits.get(story_id, 0) + 1
        return {story_id for story_id, n in hits.items() if n >= MIN_SHARED}

    def _evidence(
        self, feats: Features, weights: dict[str, float], total: float, median: float, story: _Story, known: dict[str, float]
    ) -> tuple[float, int]:
        """How well article and story explain each other (0..1), and how many rare keys they share.

        Both ways: an article about another event with the same actors is largely explained by a
        big story (it shares Putin, Moscow, the Kremlin), but it does not cover the story's own
        core (Japarov, Bishkek, 1,700 companies), so the harmonic mean stays low.
        A story sharing fewer than MIN_SHARED rare keys cannot take the article: its score is left at 0.
        """
        shared_weight = 0.0
        shared = 0
        for key, w in weights.items():
            count = story.count(key)
            if count <= 0:
                continue
            share = count / story.size
            bonus = 1.5 if key in feats.entities.title_keys and story.title_count(key) > 0 else 1.0
            shared_weight += w * share * bonus
            if w >= median and share >= 0.5 and _specific(key):
                shared += 1
        if shared < MIN_SHARED or not total or not shared_weight:
            return 0.0, shared
        size = story.size
        terms = []
        for k, c in story.counts():
            if c > 0:
                w = known.get(k)
                if w is None:
                    w = known[k] = self._weight(k)
                terms.append(w * c / size)
        story_weight = sum(terms)
        if not story_weight:
            return 0.0, shared
        covers_article = min(1.0, shared_weight / total)
        covers_story = min(1.0, shared_weight / story_weight)
        return 2 * covers_article * covers_story / (covers_article + covers_story), shared


def _is_year(key: str) -> bool:
    return key.startswith("#") and key[1:].isdigit() and 1900 <= int(key[1:]) <= 2100


def _specific(key: str) -> bool:
    """Names, figures and dates tie articles to one event; countries, regions, alliances and years do not,
    nor do names too short to tell apart ("Est", "Rom")."""
    if key.startswith("~"):
        return len(key) >= 4
    return key.startswith("date:") or (key.startswith("#") and not _is_year(key))


def _kind_weight(key: str) -> float:
    if key.startswith(("@day:", "@month:")) or _is_year(key):
        return 0.3
    if key.startswith("@") and not key.startswith("@city:"):
        return 0.5  # a country, region or organisation: shared by every story about it
    return 1.0


_KIND_WEIGHT: PerWord = PerWord(_kind_weight)


class _Bands:
    """Locality-sensitive hashing of MinHash signatures: 16 bands of 4 rows (threshold ~0.5).

    Each band of a signature is hashed to one 32-bit number. Most entries live in one
    sorted numpy array (12 bytes per band and article, against ~300 for a Python set per
    bucket); the newest wait in a small dict until they are merged in. A hash collision
    only adds a candidate, and every candidate is checked on its whole signature.
    """

    BANDS, ROWS = 16, NUM_PERM // 16
    MERGE_EVERY = 1024  # articles

    def __init__(self) -> None:
        self._hashes = np.empty(0, dtype=np.uint32)  # sorted
        self._ids = np.empty(0, dtype=np.uint32)  # article of each hash (int64 once an id needs it)
        self._recent: dict[int, list[int]] = {}
        self._recent_articles = 0
        self._gone: set[int] = set()  # removed, still in the arrays until the next merge

    def _band_hashes(self, sig: np.ndarray) -> np.ndarray:
        return ((sig.reshape(self.BANDS, self.ROWS) * _BAND_MIX).sum(axis=1, dtype=np.uint64) + _BAND_SALT).astype(np.uint32)

    def insert(self, key: int, sig: np.ndarray) -> None:
        for h in self._band_hashes(sig).tolist():
            self._recent.setdefault(h, []).append(key)
        self._recent_articles += 1
        if self._recent_articles >= self.MERGE_EVERY:
            self._merge()

    def remove(self, key: int, sig: np.ndarray | None = None) -> None:
        self._gone.add(key)
        if len(self._gone) * self.BANDS > max(len(self._ids), 1) // 4 + self.MERGE_EVERY * self.BANDS:
            self._merge()

    def query(self, sig: np.ndarray) -> set[int]:
        hashes = self._band_hashes(sig)
        found: set[int] = set()
        if len(self._hashes):
            lo = np.searchsorted(self._hashes, hashes, "left").tolist()
            hi = np.searchsorted(self._hashes, hashes, "right").tolist()
            for a, b in zip(lo, hi):
                if b > a:
                    found.update(self._ids[a:b].tolist())
        for h in hashes.tolist():
            found.update(self._recent.get(h, ()))
        return found - self._gone if self._gone else found

    def _merge(self) -> None:
        # the new entries are sorted on their own and inserted: one new copy of the arrays at a
        # time, where sorting everything again took several (tens of MB with 50,000 articles)
        hashes, ids = self._hashes, self._ids
        if self._recent:
            count = sum(map(len, self._recent.values()))
            new_hashes = np.fromiter((h for h, found in self._recent.items() for _ in found), dtype=np.uint32, count=count)
            new_ids = np.fromiter((i for found in self._recent.values() for i in found), dtype=np.int64, count=count)
            if ids.dtype == np.uint32 and new_ids.max() < 1 << 32:
                new_ids = new_ids.astype(np.uint32)
            else:
                ids = ids.astype(np.int64)
            order = np.argsort(new_hashes, kind="stable")
            at = np.searchsorted(hashes, new_hashes[order], "right")
            hashes = np.insert(hashes, at, new_hashes[order])
            ids = np.insert(ids, at, new_ids[order])
        if self._gone:
            keep = ~np.isin(ids, np.fromiter(self._gone, dtype=np.int64, count=len(self._gone)).astype(ids.dtype, copy=False))
            hashes, ids = hashes[keep], ids[keep]
        self._hashes, self._ids = hashes, ids
        self._recent, self._recent_articles, self._gone = {}, 0, set()


_BAND_MIX = np.random.default_rng(7).integers(1, 2**63, size=NUM_PERM // 16, dtype=np.uint64) | np.uint64(1)
_BAND_SALT = np.arange(16, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)


def cluster(items: Iterable[tuple[str, str, str, datetime]], index: StoryIndex | None = None) -> list[int]:
    """Assign (title, text, language, seen) items in order; returns a story number per item (for evaluation)."""
    index = index or StoryIndex()
    labels: list[int] = []
    next_story = 0
    for i, (title, text, language, seen) in enumerate(items):
        feats = features(title, text, language)
        placed = index.place(feats, seen)
        story = placed.story_id
        if story is None:
            story = next_story
            next_story += 1
        index.add(i + 1, story, feats, seen)
        labels.append(story)
    return labels
