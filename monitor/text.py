"""Text folding shared by matching and story grouping: one spelling per word.

Romanian is written with comma-below ș ț, the older cedilla ş ţ, or no diacritics
at all; all three fold to the same plain, case-free form.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from array import array
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

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


class _FoldedLemmas:
    """A read-only str -> str table packed into one bytes blob: a few MB where a dict of 320,000
    str pairs took about 56 MB of RSS.

    Entries are spread over buckets by CRC-32 of the key's UTF-8; a bucket is its entries
    back to back, each b"\\0" key b"\\1" value. A lookup hashes the key and searches its
    bucket (about 4 entries): roughly a microsecond, and lemma() caches its results anyway.
    """

    __slots__ = ("_buckets", "_offsets", "_blob", "_other")
    FORMAT = "folded-lemmas-blob-1"

    def __init__(self, buckets: int, offsets: array, blob: bytes, other: dict[str, str]):
        self._buckets = buckets
        self._offsets = offsets  # bucket i is blob[offsets[i]:offsets[i + 1]]
        self._blob = blob
        self._other = other  # the rare entries holding a separator byte: kept as they are

    @classmethod
    def pack(cls, table: dict[str, str], skip_same: bool = False) -> "_FoldedLemmas":
        """The table's entries (with skip_same, only those whose value differs from the key)."""
        buckets = max(1, len(table) // 4)
        parts: list[list[bytes]] = [[] for _ in range(buckets)]
        other: dict[str, str] = {}
        for key, value in table.items():
            if skip_same and key == value:
                continue
            k, v = key.encode(), value.encode()
            if b"\0" in k or b"\1" in k or b"\0" in v or b"\1" in v:
                other[key] = value
            else:
                parts[zlib.crc32(k) % buckets].append(b"\0" + k + b"\1" + v)
        offsets = array("I", [0])
        for part in parts:
            offsets.append(offsets[-1] + sum(map(len, part)))
        return cls(buckets, offsets, b"".join(b"".join(part) for part in parts), other)

    def dumps(self) -> bytes:
        import marshal

        return marshal.dumps((self.FORMAT, self._buckets, self._offsets.tobytes(), self._blob, self._other))

    @classmethod
    def loads(cls, data: bytes) -> "_FoldedLemmas | None":
        import marshal

        try:
            form, buckets, offsets, blob, other = marshal.loads(data)
            if form != cls.FORMAT or not isinstance(blob, bytes) or not isinstance(other, dict):
                return None
            table = array("I")
            table.frombytes(offsets)
            if len(table) != buckets + 1 or table[-1] != len(blob):
                return None
        except (ValueError, EOFError, TypeError):  # not such a file: rebuild it
            return None
        return cls(buckets, table, blob, other)

    def get(self, key: str, default: str) -> str:
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
        return blob[at : stop if stop != -1 else end].decode()


@lru_cache(maxsize=4)
def _folded_lemmas(lang: str) -> _FoldedLemmas:
    """simplemma's dictionary with diacritics folded away, for text typed without them.

    Only the forms whose folded lemma differs from the folded form itself are kept: for the
    others the lookup's default (the folded form) is the same answer. Building it takes about
    a second, so it is kept in the user's cache directory (per simplemma version) and loaded
    from there by later processes.
    """
    path = _cache_file(f"folded-lemmas-{lang}-simplemma-{_simplemma_version()}.blob")
    try:
        found = _FoldedLemmas.loads(path.read_bytes())
        if found is not None:
            return found
    except OSError:
        pass
    out: dict[str, str] = {}
    for form, lemma_ in _lemmatizer()[1].get_dictionary(lang).items():
        out.setdefault(fold(form), fold(lemma_))
    table = _FoldedLemmas.pack(out, skip_same=True)
    del out
    _keep(path, table.dumps())
    return table


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


@lru_cache(maxsize=1)
def _simplemma_version() -> str:
    from importlib.metadata import version

    return version("simplemma")


def dictionary_form(word: str, lang: str) -> str:
    """simplemma's lemma of a word, as written (not folded)."""
    return _lemmatizer()[0].lemmatize(word, lang)


@lru_cache(maxsize=1)
def _lemmatizer():  # noqa: ANN202
    """simplemma's lemmatizer, its dictionaries read from our cache directory once decoded.

    Decoding simplemma's compressed dictionaries takes over half a second per language at
    every start; the decoded tables load from a marshal file in a fraction of that.
    """
    import marshal

    from simplemma import Lemmatizer
    from simplemma.strategies import DefaultStrategy
    from simplemma.strategies.dictionaries import dictionary_factory as factories

    class CachedDictionaries(factories.DefaultDictionaryFactory):
        __slots__ = ()

        def _get_dictionary_uncached(self, lang: str):  # noqa: ANN202
            path = _cache_file(f"simplemma-{lang}-{_simplemma_version()}.marshal")
            try:
                table = marshal.loads(path.read_bytes())
                if isinstance(table, dict):
                    return factories.MappingStrToByteString(table)
            except (OSError, ValueError, EOFError, TypeError):
                pass
            table = factories._load_dictionary_from_disk(lang)
            _keep(path, marshal.dumps(table))
            return factories.MappingStrToByteString(table)

    dictionaries = CachedDictionaries()
    return Lemmatizer(lemmatization_strategy=DefaultStrategy(dictionary_factory=dictionaries)), dictionaries


@lru_cache(maxsize=50_000)  # bounded: a daemon meets new spellings every day
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


_FOLDED: dict[str, str] = {}  # word as written -> folded; bounded below


def words(text: str) -> list[str]:
    """The folded words of a text."""
    folded = _FOLDED
    if len(folded) > 50_000:
        folded.clear()
    out = []
    for w in _WORD.findall(text):
        f = folded.get(w)
        if f is None:
            f = folded[w] = fold(w)
        out.append(f)
    return out
