"""Grouping articles into stories, across outlets and across Romanian and English.

Two kinds of evidence, both computed offline on the CPU:
- near-copies: MinHash signatures (datasketch) of word shingles in a banded
  locality-sensitive index find syndicated wire copy without scanning every stored article;
- what survives translation: people, places, organisations, numbers and dates,
  reduced to language-neutral keys (a gazetteer of places in both languages, a
  transliteration skeleton for names: Bișkek/Bishkek, Sadîr/Sadyr, Tokaev/Tokayev,
  numbers 1.700/1,700), weighted by rarity among recent articles.
A new article is compared with each candidate story as a whole (how many of the
story's articles share each key), not with its single closest article, and joins
the best story above a threshold, or starts its own.

Feature extraction is pure; StoryIndex is an in-memory index over the story window,
rebuilt from stored features at start-up.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import Iterable

import numpy as np

from monitor.text import fold, lemma, nfc

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
_NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:[.,  ]\d{3})+|\d+)(?:[.,](\d+))?(?![\w])")
_SENTENCE_END = re.compile(r"[.!?…:»”\"]\s*$")
_MONTHS = {
    **{m: i + 1 for i, m in enumerate("ianuarie februarie martie aprilie mai iunie iulie august septembrie octombrie noiembrie decembrie".split())},
    **{m: i + 1 for i, m in enumerate("january february march april may june july august september october november december".split())},
}
_DATE = re.compile(
    r"\b(\d{1,2})\s+(" + "|".join(_MONTHS) + r")\b|\b(" + "|".join(_MONTHS) + r")\s+(\d{1,2})\b", re.IGNORECASE
)
_RO_CASE_ENDINGS = ("ului", "iei", "ilor", "ei", "ii", "ul", "lor")


# ---- language-neutral keys ------------------------------------------------------------------


def skeleton(word: str) -> str:
    """A transliteration-proof key for a name: Bishkek/Bișkek -> 'bskk', Sadyr/Sadîr -> 'sdr'."""
    w = fold(word).replace("-", "")
    for a, b in (("sch", "s"), ("sh", "s"), ("ch", "k"), ("kh", "h"), ("zh", "j"), ("ph", "f"), ("tz", "t"), ("ts", "t")):
        w = w.replace(a, b)
    w = w.translate(str.maketrans({"w": "v", "q": "k", "c": "k", "y": "i", "x": "k"}))
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


def _strip_case(word: str) -> str:
    for ending in _RO_CASE_ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 4:
            return word[: -len(ending)]
    return word


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
    return Entities(frozenset(_keys(title + "\n" + text, language)), frozenset(_keys(title, language)))


def _keys(body: str, language: str) -> set[str]:
    folded_gaz, exact_gaz, longest = _gazetteer()
    keys: set[str] = set()
    words = [(m.group(), m.start()) for m in _WORD.finditer(body)]
    # compared with diacritics: "Putin" is a name even where "puțin" (little) is in the text
    lowered = {nfc(w) for w, _ in words if w[:1].islower()}
    used = [False] * len(words)
    starts = _gazetteer_starts()
    folded_words = [fold(w) for w, _ in words]
    lemma_words: list[str | None] = [None] * len(words)

    def lemma_at(j: int) -> str:
        if lemma_words[j] is None:
            lemma_words[j] = "=" + lemma(words[j][0], "ro")
        return lemma_words[j]  # type: ignore[return-value]

    # places and organisations, one to several words, in either language
    for i in range(len(words)):
        by_form = folded_words[i] in starts
        by_lemma = language == "ro" and not by_form and lemma_at(i) in starts
        acronym = words[i][0] if words[i][0].isupper() and len(words[i][0]) <= 5 else None
        if not (by_form or by_lemma or (acronym and (acronym,) in exact_gaz)):
            continue
        for n in range(min(longest, len(words) - i), 0, -1):
            if any(used[i : i + n]):
                continue
            hit = exact_gaz.get((acronym,)) if n == 1 and acronym else None
            if hit is None and not (n == 1 and acronym):
                hit = folded_gaz.get(tuple(folded_words[i : i + n]))
                if hit is None and language == "ro":
                    hit = folded_gaz.get(tuple(lemma_at(j) for j in range(i, i + n)))
            if hit is not None:
                keys.add("@" + hit)
                used[i : i + n] = [True] * n
                break
            if hit is not None:
                keys.add("@" + hit)
                used[i : i + n] = [True] * n
    # names: capitalised words that are not merely sentence-initial and not ordinary words
    for i, (w, start) in enumerate(words):
        if used[i] or not w[:1].isupper() or w.isdigit():
            continue
        w = re.sub(r"['’]s$", "", w)  # Romania's -> Romania
        f = fold(w)
        if nfc(w).lower() in lowered or len(f) < 3:
            continue
        initial = (
            i == 0
            or bool(_SENTENCE_END.search(body[max(0, start - 3) : start]))
            or body[max(0, start - 1) : start] in ("\n", "„", "“", '"', "(")
            or _title_case_line(body, start)
        )
        # mid-sentence capitals are names; at a sentence start, only if not an everyday word
        if initial and not _capitalised_elsewhere(words, i) and _common(nfc(w).lower(), language, 3.0):
            continue
        base = _strip_case(f) if language == "ro" else f
        keys.add("~" + skeleton(base))
    for m in _NUMBER.finditer(body):
        key = _number_key(m.group(1), m.group(2))
        if key:
            keys.add(key)
    for m in _DATE.finditer(body):
        day, month = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
        keys.add(f"date:{_MONTHS[month.lower()]:02d}-{int(day):02d}")
    return keys


def _title_case_line(body: str, at: int) -> bool:
    """Headline Case Like This: every word's capital says nothing."""
    start = body.rfind("\n", 0, at) + 1
    end = body.find("\n", at)
    line = _WORD.findall(body[start : end if end != -1 else len(body)])
    long_words = [w for w in line if len(w) > 3]
    return len(long_words) >= 3 and sum(w[:1].isupper() for w in long_words) >= 0.8 * len(long_words)


def _capitalised_elsewhere(words: list[tuple[str, int]], i: int) -> bool:
    f = fold(words[i][0])
    return any(fold(w) == f and w[:1].isupper() for j, (w, _) in enumerate(words) if j != i and j > 0)


@lru_cache(maxsize=100_000)
def _common(word: str, language: str, threshold: float = 5.0) -> bool:
    """An ordinary word (lower case, diacritics kept) capitalised at a headline or sentence start, not a name."""
    from simplemma import lemmatize
    from wordfreq import zipf_frequency

    base = lemmatize(word, lang=language) if language in ("ro", "en") else word
    if base != word and zipf_frequency(base, language) >= 4.0:
        return True
    return zipf_frequency(word, language) >= threshold


# ---- near-copies -------------------------------------------------------------------------------


def shingles(text: str) -> list[bytes]:
    w = [fold(x) for x in _WORD.findall(text)]
    if len(w) < SHINGLE:
        return [" ".join(w).encode()] if w else []
    return [" ".join(w[i : i + SHINGLE]).encode() for i in range(len(w) - SHINGLE + 1)]


_PERM_SEED = 1


def signature(text: str) -> np.ndarray:
    """MinHash signature (NUM_PERM uint64) of the text's word shingles."""
    from datasketch import MinHash

    m = MinHash(num_perm=NUM_PERM, seed=_PERM_SEED)
    sh = shingles(text)
    if sh:
        m.update_batch(sh)
    return m.hashvalues.astype(np.uint64)


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
    body = text or title
    return Features(language, signature(body), entities(title, text, language), len(_WORD.findall(body)))


@dataclass
class _Story:
    first_seen: datetime
    last_seen: datetime
    size: int = 0
    keys: Counter = field(default_factory=Counter)
    title_keys: Counter = field(default_factory=Counter)


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
        self._articles: dict[int, tuple[int, datetime, Features]] = {}  # article -> (story, seen, features)
        self._stories: dict[int, _Story] = {}
        self._postings: dict[str, dict[int, None]] = {}  # key -> stories (insertion ordered, newest last)
        self._df: Counter = Counter()  # key -> recent articles having it
        self.loaded_upto = 0  # highest article id in the index

    def __len__(self) -> int:
        return len(self._articles)

    def _weight(self, key: str) -> float:
        n = len(self._articles) + 1
        return math.log((n + 1) / (self._df[key] + 0.5)) * _kind_weight(key)

    def add(self, article_id: int, story_id: int, feats: Features, seen: datetime) -> None:
        if article_id in self._articles:
            return
        self._articles[article_id] = (story_id, seen, feats)
        self.loaded_upto = max(self.loaded_upto, article_id)
        self._lsh.insert(article_id, feats.signature)
        story = self._stories.get(story_id)
        if story is None:
            story = self._stories[story_id] = _Story(seen, seen)
        story.size += 1
        story.last_seen = max(story.last_seen, seen)
        story.first_seen = min(story.first_seen, seen)
        story.keys.update(feats.entities.keys)
        story.title_keys.update(feats.entities.title_keys)
        for key in feats.entities.keys:
            self._df[key] += 1
            postings = self._postings.setdefault(key, {})
            postings.pop(story_id, None)
            postings[story_id] = None

    def forget_before(self, cutoff: datetime) -> None:
        """Drop articles seen before the cutoff; a story stays joinable while it has recent articles."""
        old = [a for a, (_, seen, _) in self._articles.items() if seen < cutoff]
        for article_id in old:
            story_id, _, feats = self._articles.pop(article_id)
            self._lsh.remove(article_id, feats.signature)
            story = self._stories[story_id]
            story.size -= 1
            story.keys.subtract(feats.entities.keys)
            story.title_keys.subtract(feats.entities.title_keys)
            for key in feats.entities.keys:
                self._df[key] -= 1
                if self._df[key] <= 0:
                    del self._df[key]
                if story.keys[key] <= 0:
                    self._postings.get(key, {}).pop(story_id, None)
            if story.size <= 0:
                del self._stories[story_id]

    def place(self, feats: Features, now: datetime) -> Placement:
        """The story this article belongs to (None: a new story), with the evidence."""
        for article_id in self._lsh.query(feats.signature) if feats.words >= MIN_COPY_WORDS else ():
            story_id, seen, other = self._articles[article_id]
            if other.words < MIN_COPY_WORDS:
                continue
            if other.language == feats.language and resemblance(feats.signature, other.signature) >= NEAR_COPY:
                if now - self._stories[story_id].first_seen <= self.window:
                    return Placement(story_id, 1.0, f"near-copy of article {article_id}")
        mine = feats.entities.keys
        if not mine:
            return Placement(None, 0.0, "no names, places or numbers to compare")
        weights = {k: self._weight(k) for k in mine}
        # the rarest keys that some recent story has: only those can lead to a story
        rare = sorted((k for k in mine if k in self._postings), key=lambda k: -weights[k])[:RARE_KEYS]
        votes: Counter = Counter()
        for key in rare:
            for story_id in islice(reversed(self._postings[key]), POSTINGS):
                votes[story_id] += weights[key]
        best = Placement(None, 0.0, "no story shares enough names, places or numbers")
        total = sum(weights.values())
        median = sorted(weights.values())[len(weights) // 2]
        for story_id, _ in votes.most_common(CANDIDATES):
            story = self._stories.get(story_id)
            if story is None or story.size <= 0 or now - story.first_seen > self.window:
                continue
            score, shared = self._evidence(feats, weights, total, median, story)
            if shared >= MIN_SHARED and score >= JOIN and score > best.score:
                best = Placement(story_id, score, f"shares {shared} rare names/places/numbers (score {score:.2f})")
        return best

    def _evidence(self, feats: Features, weights: dict[str, float], total: float, median: float, story: _Story) -> tuple[float, int]:
        """How well article and story explain each other (0..1), and how many rare keys they share.

        Both ways: an article about another event with the same actors is largely explained by a
        big story (it shares Putin, Moscow, the Kremlin), but it does not cover the story's own
        core (Japarov, Bishkek, 1,700 companies), so the harmonic mean stays low.
        """
        shared_weight = 0.0
        shared = 0
        for key, w in weights.items():
            count = story.keys.get(key, 0)
            if count <= 0:
                continue
            share = count / story.size
            bonus = 1.5 if key in feats.entities.title_keys and story.title_keys.get(key, 0) > 0 else 1.0
            shared_weight += w * share * bonus
            if w >= median and share >= 0.5 and _specific(key):
                shared += 1
        story_weight = sum(self._weight(k) * c / story.size for k, c in story.keys.items() if c > 0)
        if not total or not story_weight or not shared_weight:
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


class _Bands:
    """Locality-sensitive hashing of MinHash signatures: 16 bands of 4 rows (threshold ~0.5)."""

    BANDS, ROWS = 16, NUM_PERM // 16

    def __init__(self) -> None:
        self._buckets: list[dict[bytes, set[int]]] = [{} for _ in range(self.BANDS)]

    def _keys(self, sig: np.ndarray) -> list[bytes]:
        return [sig[b * self.ROWS : (b + 1) * self.ROWS].tobytes() for b in range(self.BANDS)]

    def insert(self, key: int, sig: np.ndarray) -> None:
        for bucket, band in zip(self._buckets, self._keys(sig)):
            bucket.setdefault(band, set()).add(key)

    def remove(self, key: int, sig: np.ndarray) -> None:
        for bucket, band in zip(self._buckets, self._keys(sig)):
            members = bucket.get(band)
            if members is not None:
                members.discard(key)
                if not members:
                    del bucket[band]

    def query(self, sig: np.ndarray) -> set[int]:
        found: set[int] = set()
        for bucket, band in zip(self._buckets, self._keys(sig)):
            found |= bucket.get(band, set())
        return found


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
