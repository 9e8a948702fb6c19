"""App 9, a Flask application: 12 blueprints of 20 routes each, Jinja templates compiled at
start-up, JSON providers and config loaded (a web service's worker start); then it answers one
request through the WSGI test client, as the first request after a start."""

from flask import Blueprint, Flask, jsonify, render_template_string

BLUEPRINTS, ROUTES = 12, 20
app = Flask(__name__)
app.config.update(SECRET_KEY=None, JSON_SORT_KEYS=True, TEMPLATES_AUTO_RELOAD=False)
PAGE = """<h1>{{ title }}</h1><ul>{% for item in items %}<li>{{ item.name | title }}: {{ item.value }}</li>
{% endfor %}</ul>{% macro row(x) %}<tr><td>{{ x }}</td></tr>{% endmacro %}{{ row(title) }}"""


def make_blueprint(b: int) -> Blueprint:
    bp = Blueprint(f"section{b}", __name__, url_prefix=f"/s{b}")
    for r in range(ROUTES):
        def view(item_id: int, _r: int = r) -> str:
            items = [{"name": f"item {i}", "value": i * _r} for i in range(5)]
            return render_template_string(PAGE, title=f"{bp.name} {item_id}", items=items)
        bp.add_url_rule(f"/r{r}/<int:item_id>", f"r{r}", view)
    return bp


for b in range(BLUEPRINTS):
    app.register_blueprint(make_blueprint(b))


@app.route("/api/status")
def status():
    return jsonify(routes=len(app.url_map._rules), ok=True)


with app.app_context():  # templates compiled and cached at start-up, as a warm worker has them
    render_template_string(PAGE, title="warm", items=[])
CLIENT = app.test_client()


def main() -> None:
    page = CLIENT.get("/s7/r13/42")
    api = CLIENT.get("/api/status")
    print(page.status_code, len(page.data), api.get_json(), flush=True)


if __name__ == "__main__":
    main()
