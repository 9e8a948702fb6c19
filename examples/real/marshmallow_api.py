"""marshmallow schemas (nested, validated, post_load into dataclasses) for an order API payload;
the schemas are built at start-up. Needs: marshmallow."""
from dataclasses import dataclass
from decimal import Decimal

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates


@dataclass
class Line:
    sku: str
    quantity: int
    unit_price: Decimal


@dataclass
class Order:
    customer: str
    email: str
    lines: list
    notes: str | None = None

    @property
    def total(self):
        return sum(line.quantity * line.unit_price for line in self.lines)


class LineSchema(Schema):
    sku = fields.Str(required=True, validate=validate.Regexp(r"^[A-Z]{3}-\d{3}$"))
    quantity = fields.Int(required=True, validate=validate.Range(min=1, max=99))
    unit_price = fields.Decimal(required=True, places=2, as_string=True)

    @post_load
    def make(self, data, **kwargs):
        return Line(**data)


class OrderSchema(Schema):
    customer = fields.Str(required=True, validate=validate.Length(min=2))
    email = fields.Email(required=True)
    lines = fields.List(fields.Nested(LineSchema), required=True)
    notes = fields.Str(load_default=None)

    @validates("lines")
    def not_empty(self, value, **kwargs):
        if not value:
            raise ValidationError("an order needs at least one line")

    @post_load
    def make(self, data, **kwargs):
        return Order(**data)


ORDER_SCHEMA = OrderSchema()
SUMMARY_SCHEMA = OrderSchema(only=("customer", "lines"))

if __name__ == "__main__":
    order = ORDER_SCHEMA.load({"customer": "Ada", "email": "ada@example.org",
                               "lines": [{"sku": "ABC-123", "quantity": 2, "unit_price": "9.99"},
                                         {"sku": "XYZ-900", "quantity": 1, "unit_price": "120.00"}]})
    print(order)
    print(order.total, ORDER_SCHEMA.dumps(order, indent=None, sort_keys=True))
    print(SUMMARY_SCHEMA.dump(order))
    for bad in [{"customer": "A", "email": "nope", "lines": []},
                {"customer": "Bob", "email": "b@example.org", "lines": [{"sku": "bad", "quantity": 0}]}]:
        try:
            ORDER_SCHEMA.load(bad)
        except ValidationError as err:
            print(sorted(err.messages.items()))
