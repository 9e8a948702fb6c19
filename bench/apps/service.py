"""App 1, a pure-Python service start: its start-up is computation, not imports.

Builds 300 generated dataclasses and 60 pydantic models, 40 enums, a routing table of 400
compiled regular expressions, a parsed configuration (a 3,000-entry JSON document) and an
inverted index over 40,000 generated documents; then answers one request.
"""

import dataclasses
import enum
import json
import random
import re

import pydantic

rng = random.Random(1234)  # fixed: the index must be the same in every run
WORDS = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
         for _ in range(5000)]

RECORDS = [dataclasses.make_dataclass(f"Record{i}", [(f"f{j}", int, dataclasses.field(default=j))
                                                      for j in range(i % 9 + 1)], frozen=bool(i % 2))
           for i in range(300)]
MODELS = [pydantic.create_model(f"Model{i}", **{f"x{j}": (int, j) for j in range(i % 6 + 2)},
                                name=(str, "n"), tags=(list[str], []))
          for i in range(60)]
ENUMS = [enum.Enum(f"Kind{i}", [f"K{i}_{j}" for j in range(12)]) for i in range(40)]
ROUTES = [(re.compile(rf"^/api/v{i % 3}/{WORDS[i]}/(?P<id>[0-9]+)/(?P<slug>[a-z-]+)/?$"), f"handler{i}")
          for i in range(400)]
CONFIG = json.loads(json.dumps({f"section{i}": {"name": WORDS[i], "limit": i * 3, "flags": [i % 2, i % 3],
                                                "nested": {"w": WORDS[(i * 7) % 5000]}}
                                for i in range(3000)}))
DOCS = [" ".join(rng.choice(WORDS) for _ in range(30)) for _ in range(40_000)]
INDEX: dict[str, set[int]] = {}
for doc_id, text in enumerate(DOCS):
    for word in text.split():
        INDEX.setdefault(word, set()).add(doc_id)


def route(path: str):
    for pattern, handler in ROUTES:
        m = pattern.match(path)
        if m:
            return handler, m.groupdict()
    return None, {}


def search(*words: str) -> list[int]:
    hits = set.intersection(*(INDEX.get(w, set()) for w in words))
    return sorted(hits)[:5]


def main() -> None:
    handler, params = route(f"/api/v1/{WORDS[10]}/42/hello-world")
    record = RECORDS[17](f0=5)
    model = MODELS[5](x0=3, tags=["a"])
    print(handler, params, record, model.model_dump(), ENUMS[3]["K3_4"].value)
    print(CONFIG["section77"]["nested"], len(INDEX), search(WORDS[1], WORDS[2]))


if __name__ == "__main__":
    main()
