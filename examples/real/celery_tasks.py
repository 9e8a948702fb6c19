"""A Celery application with tasks, routes and a canvas, configured for eager execution (no
broker needed, as in unit tests); the main block runs chains and groups. Needs: celery."""
from celery import Celery, chain, group

app = Celery("shop", broker="memory://", backend="cache+memory://")
app.conf.update(task_always_eager=True, task_eager_propagates=True, task_serializer="json",
                result_serializer="json", accept_content=["json"], timezone="UTC",
                task_routes={"shop.invoice.*": {"queue": "billing"}})


@app.task(name="shop.cart.total")
def cart_total(lines):
    return round(sum(qty * price for qty, price in lines), 2)


@app.task(name="shop.cart.discount")
def apply_discount(total, percent):
    return round(total * (100 - percent) / 100, 2)


@app.task(name="shop.invoice.render", bind=True)
def render_invoice(self, amount, customer):
    return f"invoice for {customer}: {amount:.2f} (task {self.name})"


@app.task(name="shop.cart.check", autoretry_for=(ZeroDivisionError,), max_retries=0)
def ratio(a, b):
    return a / b


if __name__ == "__main__":
    result = cart_total.delay([(2, 3.5), (1, 10.0)])
    print(result.get(), result.successful(), result.state)
    flow = chain(cart_total.s([(3, 4.0)]), apply_discount.s(10), render_invoice.s("ada"))
    print(flow.apply().get())
    batch = group(cart_total.s([(n, 1.25)]) for n in range(1, 5))
    print(batch.apply().get())
    print(app.amqp.router.route({}, "shop.invoice.render")["queue"].name,
          sorted(t for t in app.tasks if t.startswith("shop.")))
    try:
        ratio.delay(1, 0).get()
    except ZeroDivisionError as e:
        print("ZeroDivisionError:", e)
