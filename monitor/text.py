"""Text folding shared by matching and story grouping: one spelling per word.

Romanian is written with comma-below ș ț, the older cedilla ş ţ, or no diacritics
at all; all three fold to the same plain, case-free form.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_CEDILLA_TO_COMMA = str.maketrans({"ş": "ș", "ţ": "ț", "Ş": "Ș", "Ţ": "Ț"})
# A word is a letter or digit followed by letters, digits and combining marks, so that
# decomposed (NFD) text such as "s\u0326" stays one word; fold() drops the marks.
_WORD = re.compile(r"\w[\w\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]*", re.UNICODE)


def nfc(text: str) -> str:
    """NFC with the cedilla letters replaced by the correct comma-below ones."""
    return unicodedata.normalize("NFC", text).translate(_CEDILLA_TO_COMMA)


def fold(text: str) -> str:
    """Lower-case, no diacritics: 'Braşov', 'Brașov' and 'BRASOV' all become 'brasov'."""
    decomposed = unicodedata.normalize("NFD", text.translate(_CEDILLA_TO_COMMA))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return stripped.casefold()


@dataclass(frozen=True)
class Token:
    start: int
    end: int
    folded: str


def tokenize(text: str) -> list[Token]:
    """Words of the text with their offsets, each folded."""
    return [Token(m.start(), m.end(), fold(m.group())) for m in _WORD.finditer(text)]


def words(text: str) -> list[str]:
    return [fold(m.group()) for m in _WORD.finditer(text)]
