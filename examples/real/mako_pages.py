"""Mako templates in a TemplateLookup (inheritance, defs, filters), compiled at start-up and
rendered in the main block. Needs: mako."""
from mako.lookup import TemplateLookup

lookup = TemplateLookup(default_filters=["h"], strict_undefined=True)
lookup.put_string("layout.mako", """\
<html><head><title>${self.title()}</title></head>
<body>
${next.body()}
</body></html>
<%def name="title()">Site</%def>
""")
lookup.put_string("menu.mako", """\
<%inherit file="layout.mako"/>
<%def name="title()">Menu: ${restaurant}</%def>
<%def name="price(cents)">${"%d.%02d" % divmod(cents, 100)}</%def>
<ul>
% for dish, cents in sorted(dishes.items()):
  <li>${dish}: ${price(cents)}${" (veg)" if dish in veg else ""}</li>
% endfor
</ul>
<p>${len(dishes)} dishes; cheapest ${min(dishes, key=dishes.get)}</p>
""")
MENU = lookup.get_template("menu.mako")

if __name__ == "__main__":
    dishes = {"Soup <of the day>": 450, "Steak & Chips": 1899, "Salad": 725}
    print(MENU.render(restaurant="Chez Amber", dishes=dishes, veg={"Salad"}))
    try:
        MENU.render(restaurant="x", dishes={"Tea": 250})
    except NameError as e:
        print("NameError:", e)
