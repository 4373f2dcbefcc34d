"""The labelled story set and B-cubed scoring, shared by the story tests and tests/bench/bench_stories.py."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import yaml

from monitor.stories import StoryIndex, cluster

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "stories"


def load_eval() -> list[dict]:
    """Every labelled article, in the order they would arrive (published time)."""
    articles: list[dict] = []
    for path in sorted(FIXTURES.glob("eval_*.yaml")):
        articles += yaml.safe_load(path.read_text(encoding="utf-8"))["articles"]
    for a in articles:
        a["published"] = datetime.fromisoformat(str(a["published"]))
    return sorted(articles, key=lambda a: (a["published"], a["id"]))


def bcubed(labels: list[str], clusters: list[int]) -> tuple[float, float, float]:
    """B-cubed precision, recall and F1 of a clustering against gold labels."""
    n = len(labels)
    precision = recall = 0.0
    for i in range(n):
        same_cluster = {j for j in range(n) if clusters[j] == clusters[i]}
        same_label = {j for j in range(n) if labels[j] == labels[i]}
        both = len(same_cluster & same_label)
        precision += both / len(same_cluster)
        recall += both / len(same_label)
    p, r = precision / n, recall / n
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def run_eval(articles: list[dict] | None = None) -> tuple[float, float, float, list[int]]:
    articles = articles if articles is not None else load_eval()
    clusters = cluster([(a["title"], a["text"], a["language"], a["published"]) for a in articles], StoryIndex())
    return (*bcubed([a["story"] for a in articles], clusters), clusters)
