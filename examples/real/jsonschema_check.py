"""JSON Schema validation: a Draft 2020-12 validator with a registry of referenced schemas and
format checking built at start-up; exits 1 when a document is invalid. Needs: jsonschema."""
import sys

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

ADDRESS = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "https://example.org/address",
            "type": "object", "required": ["city"],
           "properties": {"city": {"type": "string", "minLength": 1}, "zip": {"type": "string", "pattern": "^[0-9]{5}$"}}}
PERSON = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://example.org/person",
    "type": "object",
    "required": ["name", "email"],
    "properties": {
        "name": {"type": "string"},
        "email": {"type": "string", "format": "email"},
        "age": {"type": "integer", "minimum": 0},
        "address": {"$ref": "https://example.org/address"},
        "tags": {"type": "array", "items": {"enum": ["staff", "guest", "vip"]}, "uniqueItems": True},
    },
    "additionalProperties": False,
}
REGISTRY = Registry().with_resource(ADDRESS["$id"], Resource.from_contents(ADDRESS))
Draft202012Validator.check_schema(PERSON)
VALIDATOR = Draft202012Validator(PERSON, registry=REGISTRY, format_checker=Draft202012Validator.FORMAT_CHECKER)

DOCS = [
    {"name": "Ada", "email": "ada@example.org", "age": 36, "address": {"city": "London"}, "tags": ["vip"]},
    {"name": "Bob", "email": "not-an-email", "age": -1, "address": {"zip": "12"}, "tags": ["x", "x"], "extra": 1},
]

if __name__ == "__main__":
    invalid = 0
    for doc in DOCS:
        errors = sorted(VALIDATOR.iter_errors(doc), key=lambda e: (list(e.absolute_path), e.validator))
        print(doc["name"], "valid" if not errors else f"{len(errors)} errors")
        for e in errors:
            print("  ", "/".join(map(str, e.absolute_path)) or "<root>", e.validator, "-", e.message)
        invalid += bool(errors)
    print(VALIDATOR.is_valid({"name": "C", "email": "c@example.org"}))
    sys.exit(1 if invalid else 0)
