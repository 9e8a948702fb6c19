"""Application settings validated with pydantic: nested models, field validators, a discriminated
union and a TypeAdapter built at start-up; exits 1 when a payload is rejected. Needs: pydantic."""
import json
import sys
from typing import Annotated, Literal

from pydantic import (BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator,
                      model_validator)


class Postgres(BaseModel):
    kind: Literal["postgres"]
    host: str
    port: int = 5432
    database: str


class Sqlite(BaseModel):
    kind: Literal["sqlite"]
    path: str = ":memory:"


class Cache(BaseModel):
    model_config = ConfigDict(frozen=True)
    ttl_seconds: Annotated[int, Field(ge=0, le=86400)] = 300
    backends: tuple[str, ...] = ("memory",)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    debug: bool = False
    workers: int = Field(default=2, ge=1)
    database: Annotated[Postgres | Sqlite, Field(discriminator="kind")]
    cache: Cache = Cache()
    admins: list[str] = []

    @field_validator("admins")
    @classmethod
    def emails(cls, v):
        for a in v:
            if "@" not in a:
                raise ValueError(f"{a!r} is not an e-mail address")
        return sorted(v)

    @model_validator(mode="after")
    def debug_single_worker(self):
        if self.debug and self.workers > 1:
            raise ValueError("debug mode runs one worker")
        return self


DEFAULTS = Settings(name="svc", database={"kind": "sqlite"})
SETTINGS_LIST = TypeAdapter(list[Settings])
SCHEMA = Settings.model_json_schema()

PAYLOADS = [
    '{"name": "api", "workers": "4", "database": {"kind": "postgres", "host": "db", "database": "api"},'
    ' "admins": ["zoe@example.org", "al@example.org"]}',
    '{"name": "dev", "debug": true, "database": {"kind": "sqlite", "path": "dev.db"}, "workers": 1,'
    ' "cache": {"ttl_seconds": 0}}',
    '{"name": "bad", "debug": true, "workers": 3, "database": {"kind": "mysql"}, "colour": "red"}',
]

if __name__ == "__main__":
    print(DEFAULTS.model_dump())
    print(sorted(SCHEMA["properties"]), sorted(SCHEMA["$defs"]))
    failures = 0
    for raw in PAYLOADS:
        try:
            s = Settings.model_validate_json(raw)
            print("ok", s.name, type(s.database).__name__, s.workers, s.cache, s.admins)
        except ValidationError as e:
            failures += 1
            print("rejected:", [(".".join(map(str, err["loc"])), err["type"]) for err in e.errors()])
    both = SETTINGS_LIST.validate_python([json.loads(PAYLOADS[0]), json.loads(PAYLOADS[1])])
    print([s.model_dump_json(include={"name", "database"}) for s in both])
    sys.exit(1 if failures else 0)
