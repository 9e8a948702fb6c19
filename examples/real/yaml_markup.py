"""Mixed Python/C packages: PyYAML (with its libyaml CLoader when present) and MarkupSafe.
Needs: yaml (pyyaml), markupsafe."""
import yaml
from markupsafe import Markup, escape

CONFIG = yaml.load("""
site: {title: "Tom & Jerry <3", pages: [home, about, blog]}
limits: {max: 10, ratio: 0.5}
""", Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
TEMPLATE = Markup("<h1>{}</h1><ul>{}</ul>")
ITEMS = Markup("").join(Markup("<li>{}</li>").format(p) for p in CONFIG["site"]["pages"])

if __name__ == "__main__":
    print(TEMPLATE.format(CONFIG["site"]["title"], ITEMS))
    print(escape("<script>"), yaml.safe_dump(CONFIG["limits"], sort_keys=True).strip())
    print(yaml.__with_libyaml__, type(CONFIG["site"]["title"]).__name__)
