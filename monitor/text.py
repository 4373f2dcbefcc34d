"""Text folding shared by matching and story grouping: one spelling per word.

Romanian is written with comma-below ș ț, the older cedilla ş ţ, or no diacritics
at all; all three fold to the same plain, case-free form.
"""

from __future__ import annotations

import math
import re
import unicodedata
import zlib
from array import array
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator

_CEDILLA_TO_COMMA = str.maketrans({"ş": "ș", "ţ": "ț", "Ş": "Ș", "Ţ": "Ț"})
# A word is a letter or digit followed by letters, digits and combining marks, so that
# decomposed (NFD) text such as "s\u0326" stays one word; fold() drops the marks.
_WORD = re.compile(r"\w[\w\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]*", re.UNICODE)


_CEDILLAS = re.compile("[şţŞŢ]")


def nfc(text: str) -> str:
    """NFC with the cedilla letters replaced by the correct comma-below ones."""
    if text.isascii():
        return text
    text = unicodedata.normalize("NFC", text)
    return text.translate(_CEDILLA_TO_COMMA) if _CEDILLAS.search(text) else text


def _slow_fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.translate(_CEDILLA_TO_COMMA))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return stripped.casefold()


# Latin letters with diacritics -> their base letter, for the common case without NFD
_BASE = {
    cp: base
    for cp in range(0xC0, 0x250)
    if (base := "".join(c for c in unicodedata.normalize("NFD", chr(cp)) if not unicodedata.combining(c)))
    and base != chr(cp)
    and base.isascii()
}


def fold(text: str) -> str:
    """Lower-case, no diacritics: 'Braşov', 'Brașov' and 'BRASOV' all become 'brasov'."""
    if text.isascii():
        return text.lower()
    quick = text.translate(_BASE)
    if quick.isascii():
        return quick.lower()
    return _slow_fold(text)


LEMMA_LANGUAGES = ("ro", "en")


class PackedTable:
    """A read-only str -> str table packed into one bytes blob: a few MB where a dict of
    320,000 str pairs takes about 56 MB of RSS.

    Entries are spread over buckets by CRC-32 of the key's UTF-8; a bucket is its entries
    back to back, each b"\\0" key b"\\1" value. A lookup hashes the key and searches its
    bucket (about 4 entries): roughly a microsecond, and the callers cache their results.
    With `prefixed`, a value is stored as one byte (2 + how many leading bytes it shares with
    its key) and the rest: a lemma mostly repeats its form ("organizației" -> "organizație"),
    and this saves about a third.
    """

    __slots__ = ("_buckets", "_offsets", "_blob", "_other", "_prefixed")
    FORMAT = "packed-table-2"

    def __init__(self, buckets: int, offsets: array, blob: bytes, other: dict[str, str], prefixed: bool = False):
        self._buckets = buckets
        self._offsets = offsets  # bucket i is blob[offsets[i]:offsets[i + 1]]
        self._blob = blob
        self._other = other  # the rare entries holding a separator byte: kept as they are
        self._prefixed = prefixed

    @classmethod
    def pack(cls, table: dict[str, str] | dict[bytes, bytes], skip_same: bool = False, prefixed: bool = False) -> "PackedTable":
        """The table's entries (with skip_same, only those whose value differs from the key)."""
        buckets = max(1, len(table) // 4)
        parts: list[list[bytes]] = [[] for _ in range(buckets)]
        other: dict[str, str] = {}
        for key, value in table.items():
            if skip_same and key == value:
                continue
            k = key if isinstance(key, bytes) else key.encode()
            v = value if isinstance(value, bytes) else value.encode()
            if b"\0" in k or b"\1" in k or b"\0" in v or b"\1" in v:
                other[k.decode()] = v.decode()
                continue
            if prefixed:
                shared = 0
                for a, b in zip(k, v[:253]):
                    if a != b:
                        break
                    shared += 1
                v = bytes((shared + 2,)) + v[shared:]
            parts[zlib.crc32(k) % buckets].append(b"\0" + k + b"\1" + v)
        offsets = array("I", [0])
        for part in parts:
            offsets.append(offsets[-1] + sum(map(len, part)))
        return cls(buckets, offsets, b"".join(b"".join(part) for part in parts), other, prefixed)

    def dumps(self) -> bytes:
        import marshal

        return marshal.dumps((self.FORMAT, self._buckets, self._offsets.tobytes(), self._blob, self._other, self._prefixed))

    @classmethod
    def loads(cls, data: bytes) -> "PackedTable | None":
        import marshal

        try:
            form, buckets, offsets, blob, other, prefixed = marshal.loads(data)
            if form != cls.FORMAT or not isinstance(blob, bytes) or not isinstance(other, dict):
                return None
            table = array("I")
            table.frombytes(offsets)
            if len(table) != buckets + 1 or table[-1] != len(blob):
                return None
        except (ValueError, EOFError, TypeError):  # not such a file: rebuild it
            return None
        return cls(buckets, table, blob, other, bool(prefixed))

    def get(self, key: str, default: str | None = None) -> str | None:
        k = key.encode()
        if b"\0" in k or b"\1" in k:
            return self._other.get(key, default)
        bucket = zlib.crc32(k) % self._buckets
        blob = self._blob
        end = self._offsets[bucket + 1]
        at = blob.find(b"\0" + k + b"\1", self._offsets[bucket], end)
        if at == -1:
            return self._other.get(key, default)
        at += len(k) + 2
        stop = blob.find(b"\0", at, end)
        value = blob[at : stop if stop != -1 else end]
        if self._prefixed:
            value = k[: value[0] - 2] + value[1:]
        return value.decode()

    def items(self) -> Iterator[tuple[str, str]]:
        for m in _ENTRY.finditer(self._blob):
            k, v = m.group(1), m.group(2)
            if self._prefixed:
                v = k[: v[0] - 2] + v[1:]
            yield k.decode(), v.decode()
        yield from self._other.items()

    def __len__(self) -> int:
        return self._blob.count(b"\0") + len(self._other)


_ENTRY = re.compile(rb"\x00([^\x00\x01]*)\x01([^\x00]*)")


def _cached_table(name: str, build: Callable[[], PackedTable]) -> PackedTable:
    """A table kept in the user's cache directory, built (and written there) when missing or damaged."""
    path = _cache_file(name)
    try:
        found = PackedTable.loads(path.read_bytes())
        if found is not None:
            return found
    except OSError:
        pass
    table = build()
    _keep(path, table.dumps())
    return table


@lru_cache(maxsize=4)
def _folded_lemmas(lang: str) -> PackedTable:
    """simplemma's dictionary with diacritics folded away, for text typed without them.

    Only the forms whose folded lemma differs from the folded form itself are kept: for the
    others the lookup's default (the folded form) is the same answer. Building it takes about
    a second, so it is kept in the user's cache directory (per simplemma version) and loaded
    from there by later processes.
    """

    def build() -> PackedTable:
        out: dict[str, str] = {}
        for form, lemma_ in _lemmatizer()[1].get_dictionary(lang).items():
            out.setdefault(fold(form), fold(lemma_))
        return PackedTable.pack(out, skip_same=True, prefixed=True)

    return _cached_table(f"folded-lemmas-{lang}-simplemma-{_simplemma_version()}.blob", build)


def _cache_file(name: str) -> Path:
    import os

    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "newsmonitor" / name


def _keep(path: Path, data: bytes) -> None:
    """Write a cache file atomically, so concurrent processes never read half a file."""
    import os
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home: build it each time, still correct


@lru_cache(maxsize=4)
def _package_version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def _simplemma_version() -> str:
    return _package_version("simplemma")


def dictionary_form(word: str, lang: str) -> str:
    """simplemma's lemma of a word, as written (not folded)."""
    return _lemmatizer()[0].lemmatize(word, lang)


@lru_cache(maxsize=1)
def _lemmatizer():  # noqa: ANN202
    """simplemma's lemmatizer over packed copies of its dictionaries, kept in our cache directory.

    simplemma decodes its compressed dictionaries into dicts at every start: over half a
    second and ~30 MB of RSS per language. The packed tables load from a file in a few
    milliseconds and take a third of that memory.
    """
    from simplemma import Lemmatizer
    from simplemma.strategies import DefaultStrategy
    from simplemma.strategies.dictionaries import dictionary_factory as factories

    class Packed(factories.DecodedStrMapping):
        __slots__ = ("table",)

        def __init__(self, table: PackedTable):
            self.table = table

        def _lookup(self, key: str) -> str | None:
            return self.table.get(key)

        def __iter__(self) -> Iterator[str]:
            return (key for key, _ in self.table.items())

        def __len__(self) -> int:
            return len(self.table)

    class CachedDictionaries(factories.DefaultDictionaryFactory):
        __slots__ = ()

        def _get_dictionary_uncached(self, lang: str):  # noqa: ANN202
            def build() -> PackedTable:
                return PackedTable.pack(factories._load_dictionary_from_disk(lang), prefixed=True)

            return Packed(_cached_table(f"simplemma-{lang}-{_simplemma_version()}.blob", build))

    dictionaries = CachedDictionaries()
    # its own result cache small: lemma() and the story caches above it keep the answers
    lemmatizer = Lemmatizer(cache_max_size=4096, lemmatization_strategy=DefaultStrategy(dictionary_factory=dictionaries))
    return lemmatizer, dictionaries


@lru_cache(maxsize=None)
def _frequencies(lang: str) -> PackedTable | None:
    """wordfreq's 'best' list for a language, word -> its centibel index, packed (None: no list).

    wordfreq keeps a whole list as a dict of str (about 30 MB for English); the packed copy
    in the cache directory takes 4 MB, and wordfreq is imported only to build it.
    """

    def build() -> PackedTable:
        import wordfreq

        pack = wordfreq.read_cBpack(wordfreq.available_languages("best")[lang])
        table: dict[str, str] = {}
        for index, bucket in enumerate(pack):  # bucket i holds the words of -i centibels
            for word in bucket:
                table.setdefault(word, str(index))
        return PackedTable.pack(table)

    try:
        return _cached_table(f"wordfreq-{lang}-{_package_version('wordfreq')}.blob", build)
    except KeyError:  # wordfreq has no list for the language
        return None


_PARTS = re.compile(r"\b([cdjlmnst]|qu)'(?=\w)|((?:[^\W_]|')+)")  # French-style elisions split off


@lru_cache(maxsize=8_000)
def zipf(word: str, lang: str) -> float:
    """wordfreq's zipf_frequency of one written word ('l-a', 'don't' included), from the packed list:
    the same figures for Romanian and English words, near enough for other languages.

    As wordfreq does: NFC, cedillas to commas (Romanian), case folded, apostrophes straightened;
    a word of several parts (l-a, l'a) is their frequencies combined as 1/f = Σ 1/fᵢ.
    Words with digits are not looked up (0.0): no caller asks about them.
    """
    table = _frequencies(lang)
    if table is None:
        return 0.0
    token = unicodedata.normalize("NFC", word) if not word.isascii() else word
    if lang == "ro":
        token = token.translate(_CEDILLA_TO_COMMA)
    token = token.casefold().replace("’", "'")
    if not token or any(c.isdigit() for c in token):
        return 0.0
    parts = []
    for letter, run in _PARTS.findall(token):  # as wordfreq splits: at hyphens, and after an elision (l'a, qu'il)
        found = table.get(letter or run)
        if found is None:
            return 0.0
        parts.append(int(found))
    if not parts:
        return 0.0
    freq = 1.0 / sum(10 ** (i / 100) for i in parts)  # each part's frequency is 10 ** (-i / 100)
    leading_zeroes = math.floor(-math.log(freq, 10))
    return round(math.log10(round(freq, leading_zeroes + 3)) + 9, 2)


@lru_cache(maxsize=16_000)  # bounded: a daemon meets new spellings every day
def lemma(word: str, lang: str) -> str:
    """The folded dictionary form of a word: 'Organizației', 'organizatiei' -> 'organizatie'."""
    if lang not in LEMMA_LANGUAGES:
        return fold(word)
    lower = nfc(word).lower()
    found = dictionary_form(lower, lang)
    if found != lower:
        return fold(found)
    if lang == "ro":  # perhaps a form written without its diacritics
        return _folded_lemmas(lang).get(fold(lower), fold(lower))
    return fold(found)


@dataclass(frozen=True)
class Token:
    start: int
    end: int
    folded: str
    raw: str = ""  # NFC, comma letters, case kept: for acronyms and exact-diacritics terms


def tokenize(text: str) -> list[Token]:
    """Words of the text with their offsets, each folded."""
    out = []
    for m in _WORD.finditer(text):
        raw = m.group()
        out.append(Token(m.start(), m.end(), fold(raw), nfc(raw) if not raw.isascii() else raw))
    return out


class PerWord(dict):
    """spelling -> fact, computed on first sight. News vocabulary is open-ended (names, numbers),
    so past `limit` spellings everything is forgotten and relearned as needed (story grouping's
    caches hold about 1 KB a spelling together: some 8 MB at most; a news text's everyday words
    are a few thousand, relearned within a few articles after a clear)."""

    def __init__(self, compute: Callable[[str], object], limit: int = 8_000):
        super().__init__()
        self.compute = compute
        self.limit = limit

    def __missing__(self, word: str) -> object:
        if len(self) >= self.limit:
            self.clear()
        value = self[word] = self.compute(word)
        return value


_FOLDED = PerWord(fold, limit=16_000)  # word as written -> folded


def words(text: str) -> list[str]:
    """The folded words of a text."""
    return list(map(_FOLDED.__getitem__, _WORD.findall(text)))
