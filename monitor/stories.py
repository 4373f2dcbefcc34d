"""Grouping articles into stories. First version: near-copies (syndicated wire text) share a story.

Pure: the caller loads recent articles, asks `StoryIndex.place` for each new one,
and writes the answer.
"""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta
from dataclasses import dataclass, field

from monitor.text import words

SHINGLE = 4  # words per shingle
NEAR_COPY = 0.5  # Jaccard of shingles above which two texts are one story
WINDOW = timedelta(hours=72)  # an article may join a story first seen this long ago


def shingles(text: str) -> frozenset[int]:
    w = words(text)
    if len(w) < SHINGLE:
        return frozenset([zlib.crc32(" ".join(w).encode())]) if w else frozenset()
    return frozenset(zlib.crc32(" ".join(w[i : i + SHINGLE]).encode()) for i in range(len(w) - SHINGLE + 1))


def resemblance(a: frozenset[int], b: frozenset[int]) -> float:
    """Jaccard, or containment when one text is a cut-down copy of the other."""
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return max(inter / len(a | b), inter / min(len(a), len(b)) * 0.9 if min(len(a), len(b)) >= 30 else 0.0)


@dataclass
class StoryIndex:
    """Recent articles' shingles and their stories."""

    members: list[tuple[int, frozenset[int], datetime]] = field(default_factory=list)  # (story, shingles, seen)
    loaded_upto: int = 0  # highest article id already in the index

    def add(self, story_id: int, text: str, seen: datetime) -> None:
        self.members.append((story_id, shingles(text), seen))

    def forget_before(self, cutoff: datetime) -> None:
        self.members = [m for m in self.members if m[2] >= cutoff]

    def place(self, text: str) -> int | None:
        """The story this text is a near-copy of, or None for a new story."""
        mine = shingles(text)
        best, best_score = None, NEAR_COPY
        for story_id, theirs, _ in self.members:
            score = resemblance(mine, theirs)
            if score >= best_score:
                best, best_score = story_id, score
        return best
