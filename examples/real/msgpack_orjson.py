"""Serialisation: a msgpack Packer/Unpacker pair with extension types for datetimes and
decimals, and orjson with dataclasses and options; codecs set up at start-up. Needs: msgpack, orjson."""
import dataclasses
import datetime
import decimal
import hashlib

import msgpack
import orjson

EXT_DATETIME, EXT_DECIMAL = 1, 2


def default(obj):
    if isinstance(obj, datetime.datetime):
        return msgpack.ExtType(EXT_DATETIME, obj.isoformat().encode())
    if isinstance(obj, decimal.Decimal):
        return msgpack.ExtType(EXT_DECIMAL, str(obj).encode())
    raise TypeError(f"cannot serialise {obj!r}")


def ext_hook(code, data):
    if code == EXT_DATETIME:
        return datetime.datetime.fromisoformat(data.decode())
    if code == EXT_DECIMAL:
        return decimal.Decimal(data.decode())
    return msgpack.ExtType(code, data)


@dataclasses.dataclass
class Event:
    kind: str
    at: datetime.datetime
    payload: dict


PACKER = msgpack.Packer(default=default, use_bin_type=True)
EVENTS = [Event("signup", datetime.datetime(2024, 6, 1, 9, 30, tzinfo=datetime.UTC), {"user": i})
          for i in range(3)]
JSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2 | orjson.OPT_NAIVE_UTC

if __name__ == "__main__":
    record = {"id": 7, "price": decimal.Decimal("19.99"), "when": EVENTS[0].at, "blob": b"\x00\x01"}
    packed = PACKER.pack(record)
    print(len(packed), hashlib.sha256(packed).hexdigest()[:16])
    print(msgpack.unpackb(packed, ext_hook=ext_hook, raw=False))
    unpacker = msgpack.Unpacker(raw=False, ext_hook=ext_hook)
    unpacker.feed(b"".join(PACKER.pack(dataclasses.asdict(e)) for e in EVENTS))
    print([e["payload"]["user"] for e in unpacker])
    print(orjson.dumps(EVENTS[:2], option=JSON_OPTIONS).decode())
    print(orjson.loads(b'{"a": [1, 2.5, null, true]}'), orjson.dumps(datetime.date(2024, 2, 29)))
