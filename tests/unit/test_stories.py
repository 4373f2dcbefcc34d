"""Story grouping, first version: syndicated near-copies share a story, different texts do not."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from monitor.stories import StoryIndex, resemblance, shingles

SEED = (Path(__file__).resolve().parents[3] / "shared" / "seed" / "000_784eaa9a48f1fa15.txt").read_text(encoding="utf-8")
NOW = datetime(2025, 11, 26, tzinfo=timezone.utc)


def edited_copy(text: str) -> str:
    paragraphs = [p for p in text.split("\n") if p.strip()]
    del paragraphs[3]  # an agency drops a paragraph
    edited = "\n".join(paragraphs).replace("Președintele", "Liderul rus").replace("miercuri", "în cursul zilei de miercuri")
    return edited + "\nSursa: The Moscow Times"


def test_a_syndicated_copy_with_edits_joins_the_story():
    index = StoryIndex()
    index.add(1, SEED, NOW)
    assert index.place(edited_copy(SEED)) == 1


def test_a_copy_without_diacritics_joins_the_story():
    import unicodedata

    plain = "".join(c for c in unicodedata.normalize("NFD", SEED) if not unicodedata.combining(c))
    index = StoryIndex()
    index.add(7, SEED, NOW)
    assert index.place(plain) == 7


def test_a_different_article_on_the_same_actors_starts_a_new_story():
    other = (
        "Președintele kazah Kassym-Jomart Tokayev a fost la Moscova, unde l-a invitat pe Vladimir Putin "
        "să facă o vizită în Kazahstan în 2026. Cei doi au discutat despre energie, comerț și securitate "
        "regională, iar Putin a acceptat invitația. Kazahstanul găzduiește anul viitor exerciții militare."
    )
    index = StoryIndex()
    index.add(1, SEED, NOW)
    assert index.place(other) is None
    assert resemblance(shingles(SEED), shingles(other)) < 0.4  # shared phrases, clearly below NEAR_COPY


def test_old_stories_are_forgotten_after_the_window():
    index = StoryIndex()
    index.add(1, SEED, NOW)
    index.forget_before(NOW + timedelta(hours=73))
    assert index.place(SEED) is None
