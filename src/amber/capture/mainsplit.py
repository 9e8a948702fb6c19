"""Find the snapshot point in the main script and split its module body there.

The snapshot point is the first of:

1. a bare top-level expression statement ``amber.snapshot()`` (or ``snapshot()`` imported from
   amber): the body above it runs before the snapshot, the body below it after restore;
2. the top-level ``if __name__ == "__main__":`` statement: it and everything after it run after
   restore, so unmodified programs work;
3. the end of the script: nothing is left to run after restore.

A call of ``amber.snapshot()`` anywhere else (inside a function, or nested in an
``if``/``for``/``with``/``try``, in this script or in a module it imports) is a snapshot point
where the program reaches it: the running stack is captured there
(:class:`amber.capture.session.StackPoint`). When the script itself holds such a call and no
top-level one, it is not split at its main guard (the guarded code is what calls it): the whole
body runs, and ``nested_line`` says where the call is, for the error when it is never reached.

This runs in the snapshotting process before the program does, so it leaves no module behind
that the program did not ask for: the syntax tree comes from the builtin ``_ast`` (``compile``
with ``PyCF_ONLY_AST``), not from ``ast`` (which would bring ``enum`` and ``contextlib``), and
``__future__`` is imported only for a script that imports it itself. Nor does it leave ``_ast``
in ``sys.modules`` (a restore would import it again for every image, and a cold run has no such
module): its node classes live in the interpreter's state, not in the module, so a program that
imports ``ast`` later gets the very classes this module holds (3.11 to 3.13).
"""

import sys

from amber._compat import ident
from amber.errors import UsageError

_HAD_AST = "_ast" in sys.modules
import _ast as ast  # noqa: E402  (the node classes; ast.py adds only helpers, and imports)

if not _HAD_AST:
    del sys.modules["_ast"]

TYPE_CHECKING = False  # no `types` or `typing` before the program runs (see above)
if TYPE_CHECKING:
    from types import CodeType


def _parse(source: "str | bytes", filename: str) -> ast.Module:
    tree = compile(source, filename, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    assert isinstance(tree, ast.Module)  # what "exec" mode parses to
    return tree


def _walk(tree: ast.AST):
    """Every node of ``tree``, as ``ast.walk`` yields them (breadth first)."""
    todo = [tree]
    while todo:
        node = todo.pop(0)
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, ast.AST):
                todo.append(value)
            elif isinstance(value, list):
                todo.extend(v for v in value if isinstance(v, ast.AST))
        yield node


class Split:
    """The main script's body cut at the snapshot point, compiled."""

    def __init__(self, first: "CodeType", rest: "CodeType", kind: str, line: int,
                 nested_line: int = 0, checkpoints: bool = False) -> None:
        self.first = first  # code object: the body up to the snapshot point
        self.rest = rest  # code object: the body after it
        self.kind = kind  # "call", "main-guard" or "end"
        self.line = line
        self.nested_line = nested_line  # the first amber.snapshot() below the top level, or 0
        self.checkpoints = checkpoints  # the script calls amber.checkpoint() (its whole run is watched)


def split_source(source: "str | bytes | None", filename: str) -> Split:
    """``source`` (the main script's, or ``-m MODULE``'s as its loader gives it) cut at the
    snapshot point. Anything that is not Python source is a UsageError: None, which the loaders of
    frozen, built-in and extension modules give (``-m os.path``, ``-m __hello__``, ``-m _json``),
    source with a NUL byte, source that does not decode."""
    if not isinstance(source, (str, bytes)):
        raise UsageError(f"no Python source to run (the module comes from {filename!r}: a frozen, "
                         f"built-in or extension module has none; run a script, or a module with a .py "
                         f"file)")
    try:
        tree = _parse(source, filename)
    except SyntaxError as e:
        where = filename if e.lineno is None else f"{filename}:{e.lineno}"
        raise UsageError(f"{where}: syntax error: {e.msg}") from None
    except ValueError as e:  # "source code string cannot contain null bytes" (3.11)
        raise UsageError(f"{filename}: not Python source ({e})") from None
    modules, functions = _amber_names(tree, "snapshot")
    checkpoint_names = _amber_names(tree, "checkpoint")
    checkpoints = any(_is_call_of(node, *checkpoint_names, "checkpoint") for node in _walk(tree))
    body = tree.body
    top_calls = set()
    for stmt in body:
        if isinstance(stmt, ast.Expr) and _is_call_of(stmt.value, modules, functions, "snapshot"):
            top_calls.add(ident(stmt.value))
    nested = [node.lineno for node in _walk(tree) if isinstance(node, ast.Call)
              and ident(node) not in top_calls and _is_call_of(node, modules, functions, "snapshot")]
    nested_line = 0 if top_calls or not nested else min(nested)
    last_line = body[-1].end_lineno if body else 0
    kind, line, cut, rest_from = "end", last_line, len(body), len(body)
    for i, stmt in enumerate(body):
        if isinstance(stmt, ast.Expr) and ident(stmt.value) in top_calls:
            kind, line, cut, rest_from = "call", stmt.lineno, i, i + 1
            break
        if _is_main_guard(stmt) and not nested_line:
            kind, line, cut, rest_from = "main-guard", stmt.lineno, i, i
            break
    flags = 0
    for stmt in body[:cut]:
        if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
            import __future__  # the script's own future import loads it anyway

            for alias in stmt.names:
                feature = getattr(__future__, alias.name, None)
                if feature is not None:
                    flags |= feature.compiler_flag
    first = compile(ast.Module(body=body[:cut], type_ignores=[]), filename, "exec", dont_inherit=True)
    rest = compile(ast.Module(body=body[rest_from:], type_ignores=[]), filename, "exec", flags=flags,
                   dont_inherit=True)
    return Split(first, rest, kind, line or 0, nested_line, checkpoints)


def _amber_names(tree, function: str) -> tuple[set, set]:
    """The names the script gives the amber module, and ``amber.<function>`` imported from it."""
    modules, functions = {"amber"}, set()
    for node in _walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "amber":
                    modules.add(alias.asname or "amber")
        elif isinstance(node, ast.ImportFrom) and node.module == "amber":
            for alias in node.names:
                if alias.name == function:
                    functions.add(alias.asname or function)
    return modules, functions


def _is_call_of(node, modules, functions, function: str) -> bool:
    if not isinstance(node, ast.Call):
        return False
    f = node.func
    if isinstance(f, ast.Attribute) and f.attr == function and isinstance(f.value, ast.Name):
        return f.value.id in modules
    return isinstance(f, ast.Name) and f.id in functions


def _is_main_guard(stmt) -> bool:
    if not isinstance(stmt, ast.If):
        return False
    t = stmt.test
    if not (isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.ops[0], ast.Eq)):
        return False
    sides = [t.left, t.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    consts = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return len(names) == 1 and len(consts) == 1
