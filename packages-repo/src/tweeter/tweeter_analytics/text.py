"""How tweeter-analytics splits a message into words and hashtags.

Both work on the message lowercased (Python's `str.lower`, Unicode-aware):
- a **hashtag** is `#` followed by one or more word characters (letters, digits, `_`; `\\w`
  in Python's Unicode regular expressions) where the `#` does not follow a word character
  (`#DCOS` -> `#dcos`; `c#` is no hashtag). Hashtags keep their `#`.
- **words** are what is left once every hashtag is removed: runs of word characters, with
  inner apostrophes kept (`don't`, `it's`); everything else (spaces, punctuation, `@`, `-`,
  emoji) separates words. No stop words are removed and no stemming is done.
So `"Loving #DCOS, don't you? @bob #dcos"` has words `loving`, `don't`, `you`, `bob` and
hashtags `#dcos` twice.

Called by `tweeter_analytics.job` inside the batch tasks (on the cluster's executors).
"""

from __future__ import annotations

import re

HASHTAG = re.compile(r"(?<!\w)#(\w+)")
WORD = re.compile(r"\w+(?:'\w+)*")


def hashtags(text: str) -> list[str]:
    """The hashtags of `text`, lowercased, with their `#`, in order (repeats kept)."""
    return ["#" + tag for tag in HASHTAG.findall(text.lower())]


def words(text: str) -> list[str]:
    """The words of `text` outside its hashtags, lowercased, in order (repeats kept)."""
    return WORD.findall(HASHTAG.sub(" ", text.lower()))
