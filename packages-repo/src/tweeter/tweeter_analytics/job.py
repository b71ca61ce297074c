"""The analytics computation as batch jobs, and its result.

`analyse(sc, texts, top)` distributes the message texts over the SparkContext's executors and
runs two word-count style jobs (flatMap -> map to (token, 1) -> reduceByKey -> takeOrdered):
one over words, one over hashtags (`tweeter_analytics.text`). Ranking: count descending, then
the token ascending, so equal counts come out in a stable order.

Called by `tweeter_analytics.__main__` once per interval.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from operator import add
from typing import Any

from tweeter_analytics import text

Ranked = list[tuple[str, int]]


def rank(kv: tuple[str, int]) -> tuple[int, str]:
    """Sort key: most frequent first, then alphabetical."""
    return (-kv[1], kv[0])


def one(token: str) -> tuple[str, int]:
    return (token, 1)


@dataclass(frozen=True)
class Result:
    """One analytics run: how many messages, when it ended (epoch seconds), how long the batch
    jobs took, the top words and hashtags with their counts, and the batch application id."""

    messages: int
    computed_at: float
    duration_s: float
    top_words: Ranked
    top_hashtags: Ranked
    application_id: str

    def to_json(self) -> str:
        """The JSON stored in Redis and served by tweeter's `/api/analytics`."""
        doc: dict[str, Any] = {
            "messages": self.messages,
            "computed_at": round(self.computed_at, 3),
            "duration_s": round(self.duration_s, 3),
            "top_words": [[w, c] for w, c in self.top_words],
            "top_hashtags": [[h, c] for h, c in self.top_hashtags],
            "application_id": self.application_id,
        }
        return json.dumps(doc, ensure_ascii=False)


def top_counts(sc: Any, texts: list[str], tokens: Any, top: int, slices: int) -> Ranked:
    """The `top` most frequent tokens (`tokens(text) -> list[str]`) of `texts`, counted on the
    cluster: one batch job."""
    if not texts:
        return []
    counts = sc.parallelize(texts, slices).flatMap(tokens).map(one).reduceByKey(add)
    return [(str(k), int(v)) for k, v in counts.takeOrdered(top, key=rank)]


def analyse(sc: Any, texts: list[str], top: int) -> Result:
    """Count the words and hashtags of `texts` on `sc`'s executors; the top `top` of each."""
    started = time.monotonic()
    slices = max(2, min(len(texts) // 500 + 1, 2 * int(sc.defaultParallelism)))
    words = top_counts(sc, texts, text.words, top, slices)
    tags = top_counts(sc, texts, text.hashtags, top, slices)
    return Result(len(texts), time.time(), time.monotonic() - started, words, tags,
                  str(sc.applicationId))
