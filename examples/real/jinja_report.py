"""A Jinja2 environment set up once (loader, autoescaping, custom filters and globals, template
inheritance, macros); the templates are compiled at start-up and rendered later. Needs: jinja2."""
from datetime import date

from jinja2 import DictLoader, Environment, StrictUndefined, select_autoescape

TEMPLATES = {
    "base.html": """<html><title>{% block title %}Report{% endblock %}</title>
<body>{% block body %}{% endblock %}
<footer>generated {{ today|isodate }} by {{ app_name }}</footer></body></html>""",
    "macros.html": """{% macro row(cells, cls='') -%}
<tr{% if cls %} class="{{ cls }}"{% endif %}>{% for c in cells %}<td>{{ c }}</td>{% endfor %}</tr>
{%- endmacro %}""",
    "report.html": """{% extends "base.html" %}{% from "macros.html" import row %}
{% block title %}{{ title }} - {{ super() }}{% endblock %}
{% block body %}<table>
{% for team in teams|sort(attribute='score', reverse=true) %}{{ row([loop.index, team.name, team.score|money], cls=loop.cycle('odd', 'even')) }}
{% endfor %}</table>
<p>{{ teams|map(attribute='name')|join(', ')|truncate(20) }}</p>{% endblock %}""",
}


def money(value):
    return f"${value:,.2f}"


env = Environment(loader=DictLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                  undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
env.filters["money"] = money
env.filters["isodate"] = lambda d: d.isoformat()
env.globals.update(app_name="scoreboard <beta>", today=date(2024, 5, 17))
REPORT = env.get_template("report.html")

if __name__ == "__main__":
    teams = [{"name": "Lions & Co", "score": 1520.5}, {"name": "Tigers", "score": 98000},
             {"name": "<Bears>", "score": 3.14159}]
    print(REPORT.render(title="Q2 standings", teams=teams))
    try:
        REPORT.render(teams=teams)
    except Exception as e:
        print(type(e).__name__, e)
    print(env.from_string("{{ 'x' * n }}|{{ items|sum }}").render(n=3, items=[1, 2, 3]))
    print(sorted(env.list_templates()))
