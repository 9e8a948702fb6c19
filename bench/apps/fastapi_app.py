"""App 3, a FastAPI + pydantic application: 100 models and 100 routes, OpenAPI schema built at
start; then it answers one request through the ASGI app (no server, no sockets)."""

import asyncio
import json
import os
import sys

import pydantic
from fastapi import FastAPI


def make_model(i: int) -> type[pydantic.BaseModel]:
    fields = {f"field{j}": ((int | None) if j % 3 else str, None if j % 3 else "x") for j in range(i % 8 + 2)}
    return pydantic.create_model(f"Item{i}", **fields, tags=(list[str], []))


MODELS = [make_model(i) for i in range(100)]
app = FastAPI(title="bench")


def add_route(i: int, model: type[pydantic.BaseModel]) -> None:
    @app.post(f"/items{i}/{{item_id}}", response_model=model, name=f"create{i}")
    async def create(item_id: int, item: model, q: str | None = None):  # type: ignore[valid-type]
        return item

    @app.get(f"/items{i}/{{item_id}}", name=f"read{i}")
    async def read(item_id: int, verbose: bool = False) -> dict:
        return {"id": item_id, "route": i, "verbose": verbose}


for i, model in enumerate(MODELS):
    add_route(i, model)
SCHEMA = app.openapi()


async def call(method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    sent: list = []
    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": [(b"content-type", b"application/json")], "http_version": "1.1",
             "scheme": "http", "server": ("bench", 80), "client": ("bench", 1), "root_path": ""}

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def main() -> None:
    status, body = asyncio.run(call("POST", "/items42/7", json.dumps({"field0": "hi", "field1": 3}).encode()))
    print(status, body.decode(), len(SCHEMA["paths"]), len(SCHEMA["components"]["schemas"]))
    if os.environ.get("AMBER_BENCH_HOLD"):  # the suite measures memory while it waits here
        sys.stdout.flush()
        sys.stdin.read()


if __name__ == "__main__":
    main()
