"""A service whose start-up does real work: the example Amber's README snapshots and restores.

Start-up (everything above the ``if __name__ == "__main__":`` line) builds what a small search
service needs before it can answer: a few hundred generated record classes, a routing table of
compiled regular expressions, a parsed configuration and an inverted index over 30,000
generated documents. The ``__main__`` block answers one query, so the cold run and the restored
run print the same thing, and the restored one skips the start-up.
"""

import dataclasses
import enum
import json
import random
import re
import sys
import time

T0 = time.perf_counter()


class Kind(enum.Enum):
    ARTICLE = "article"
    PRODUCT = "product"
    PERSON = "person"


def make_model(i: int) -> type:
    fields = [(f"f{j}", int, dataclasses.field(default=j)) for j in range(i % 7 + 1)]
    return dataclasses.make_dataclass(f"Model{i}", fields, frozen=bool(i % 2))


MODELS = {cls.__name__: cls for cls in (make_model(i) for i in range(300))}

ROUTES = [(re.compile(rf"^/api/v{v}/(?P<kind>{k.value})s/(?P<id>\d+)(?:/(?P<field>\w+))?$"), k)
          for v in range(1, 6) for k in Kind]

CONFIG = json.loads(json.dumps({
    "name": "catalog", "shards": 4, "weights": {"title": 3.0, "body": 1.0},
    "stopwords": ["the", "a", "of", "and", "to"]}))

WORDS = [f"w{n:04d}" for n in range(4000)]
rng = random.Random(1234)  # seeded on purpose: the documents are the same in every run


@dataclasses.dataclass
class Doc:
    id: int
    kind: Kind
    title: list
    body: list


DOCS = [Doc(i, list(Kind)[i % 3], rng.sample(WORDS, 5), rng.choices(WORDS, k=40)) for i in range(30000)]
del rng  # only start-up draws from it (a generator kept in the heap would repeat after every restore)

INDEX: dict = {}
for doc in DOCS:
    for field, weight in CONFIG["weights"].items():
        for word in getattr(doc, field):
            if word not in CONFIG["stopwords"]:
                postings = INDEX.setdefault(word, {})
                postings[doc.id] = postings.get(doc.id, 0.0) + weight

STARTUP_MS = (time.perf_counter() - T0) * 1000


def search(query: str, limit: int = 5) -> list:
    scores: dict = {}
    for word in query.split():
        for doc_id, score in INDEX.get(word, {}).items():
            scores[doc_id] = scores.get(doc_id, 0.0) + score
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def route(path: str):
    for pattern, kind in ROUTES:
        m = pattern.match(path)
        if m:
            return kind, m.groupdict()
    return None


if __name__ == "__main__":
    query = " ".join(sys.argv[1:]) or "w0001 w0042 w1234"
    print(f"models={len(MODELS)} routes={len(ROUTES)} docs={len(DOCS)} terms={len(INDEX)}")
    print("route:", route("/api/v3/products/42/price"))
    print("search:", search(query))
    print(f"(start-up work when this process was first started: {STARTUP_MS:.0f} ms)", file=sys.stderr)
