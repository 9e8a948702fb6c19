"""Python-Markdown with extensions (toc, tables, fenced code, attribute lists) set up once and
reset between documents. Needs: markdown."""
import markdown

MD = markdown.Markdown(extensions=["toc", "tables", "fenced_code", "attr_list", "abbr"],
                       extension_configs={"toc": {"permalink": "#", "toc_depth": "2-3"}},
                       output_format="html")

DOCS = {
    "install.md": """# Install {#top}

## From PyPI

Run `pip install amber-snapshot`.

## From source

```bash
git clone example && cd example
```
""",
    "table.md": """## Options

| option | meaning |
|--------|---------|
| `-o`   | output *image* |
| `-v`   | verbose |

The CLI is a command-line interface.

*[CLI]: Command Line Interface
""",
}

if __name__ == "__main__":
    for name, text in DOCS.items():
        html = MD.reset().convert(text)
        print(f"--- {name}")
        print(html)
        print("toc:", [t["id"] for t in MD.toc_tokens] if MD.toc_tokens else [],
              [c["name"] for t in MD.toc_tokens for c in t["children"]])
