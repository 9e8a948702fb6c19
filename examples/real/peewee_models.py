"""peewee models bound to a SQLite database declared at start-up (not yet connected); the main
block connects, creates the tables and queries. Needs: peewee."""
import datetime

from peewee import JOIN, CharField, DateField, ForeignKeyField, IntegerField, Model, SqliteDatabase, fn

db = SqliteDatabase(":memory:", pragmas={"foreign_keys": 1})


class BaseModel(Model):
    class Meta:
        database = db


class Customer(BaseModel):
    name = CharField(unique=True)
    city = CharField(index=True)


class Order(BaseModel):
    customer = ForeignKeyField(Customer, backref="orders")
    placed = DateField()
    total_cents = IntegerField()


SEED = {
    "Ada": ("London", [(datetime.date(2024, 1, 3), 1999), (datetime.date(2024, 2, 1), 500)]),
    "Grace": ("Arlington", [(datetime.date(2024, 1, 15), 12000)]),
    "Linus": ("Helsinki", []),
}

if __name__ == "__main__":
    db.connect()
    db.create_tables([Customer, Order])
    with db.atomic():
        for name, (city, orders) in SEED.items():
            c = Customer.create(name=name, city=city)
            for placed, total in orders:
                Order.create(customer=c, placed=placed, total_cents=total)
    query = (Customer.select(Customer.name, fn.COUNT(Order.id).alias("n"),
                             fn.COALESCE(fn.SUM(Order.total_cents), 0).alias("spent"))
             .join(Order, join_type=JOIN.LEFT_OUTER).group_by(Customer.id).order_by(Customer.name))
    for row in query:
        print(row.name, row.n, row.spent)
    jan = Order.select().where(Order.placed < datetime.date(2024, 2, 1)).order_by(Order.placed)
    print([(o.customer.name, str(o.placed)) for o in jan])
    print(jan.sql()[0])
    db.close()
