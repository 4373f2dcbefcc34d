"""Text folding shared by matching and story grouping: one spelling per word.

Romanian is written with comma-below ș ț, the older cedilla ş ţ, or no diacritics
at all; all three fold to the same plain, case-free form.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_CEDILLA_TO_COMMA = str.maketrans({"ş": "ș", "ţ": "ț", "Ş": "Ș", "Ţ": "Ț"})
# A word is a letter or digit followed by letters, digits and combining marks, so that
# decomposed (NFD) text such as "s\u0326" stays one word; fold() drops the marks.
_WORD = re.compile(r"\w[\w\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]*", re.UNICODE)


def nfc(text: str) -> str:
    """NFC with the cedilla letters replaced by the correct comma-below ones."""
    return unicodedata.normalize("NFC", text).translate(_CEDILLA_TO_COMMA)


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


@lru_cache(maxsize=4)
def _folded_lemmas(lang: str) -> dict[str, str]:
    """simplemma's dictionary with diacritics folded away, for text typed without them.

    Building it takes about a second, so it is kept in the user's cache directory
    (per simplemma version) and loaded from there by later processes.
    """
    import marshal
    import os
    import tempfile
    from importlib.metadata import version
    from pathlib import Path

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "newsmonitor"
    path = cache / f"folded-lemmas-{lang}-simplemma-{version('simplemma')}.marshal"
    try:
        data = marshal.loads(path.read_bytes())
        if isinstance(data, dict):
            return data
    except (OSError, ValueError, EOFError, TypeError):
        pass
    from simplemma.strategies.dictionaries import DefaultDictionaryFactory

    out: dict[str, str] = {}
    for form, lemma_ in DefaultDictionaryFactory().get_dictionary(lang).items():
        out.setdefault(fold(form), fold(lemma_))
    try:  # atomically, so concurrent processes never read half a file
        cache.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache)
        with os.fdopen(fd, "wb") as f:
            f.write(marshal.dumps(out))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home: build it each time, still correct
    return out


@lru_cache(maxsize=300_000)
def lemma(word: str, lang: str) -> str:
    """The folded dictionary form of a word: 'Organizației', 'organizatiei' -> 'organizatie'."""
    if lang not in LEMMA_LANGUAGES:
        return fold(word)
    import simplemma

    lower = nfc(word).lower()
    found = simplemma.lemmatize(lower, lang=lang)
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


def words(text: str) -> list[str]:
    return [fold(m.group()) for m in _WORD.finditer(text)]
