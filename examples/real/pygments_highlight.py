"""Syntax highlighting with Pygments: lexers and formatters looked up once at start-up (HTML
with a style, plain-terminal tokens), used to highlight snippets later. Needs: pygments."""
from pygments import highlight, lex
from pygments.formatters import HtmlFormatter, NullFormatter
from pygments.lexers import get_lexer_by_name, guess_lexer_for_filename
from pygments.token import Token

PYTHON = get_lexer_by_name("python", stripall=True)
SQL = get_lexer_by_name("sql")
HTML = HtmlFormatter(style="friendly", linenos="inline", cssclass="code", noclasses=False)
CSS = HTML.get_style_defs(".code")

SNIPPET = '''def fib(n: int) -> int:
    """Return the n-th Fibonacci number."""
    return n if n < 2 else fib(n - 1) + fib(n - 2)  # slow
'''

if __name__ == "__main__":
    print(highlight(SNIPPET, PYTHON, HTML))
    print(len(CSS.splitlines()) > 20, CSS.splitlines()[0][:40])
    counts = {}
    for tok, value in lex("SELECT name, count(*) FROM users WHERE age > 30 GROUP BY name;", SQL):
        if tok in Token.Keyword:
            counts[value.upper()] = counts.get(value.upper(), 0) + 1
    print(sorted(counts.items()))
    lexer = guess_lexer_for_filename("config.yaml", "key: [1, 2]\n")
    print(lexer.name, highlight("key: [1, 2]\n", lexer, NullFormatter()).strip())
