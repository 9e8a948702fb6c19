"""The classes of failure the real-programs corpus found, each reduced to a small program.

Every program runs for real: ``amber snapshot`` through the command line, then ``amber restore``
in a fresh process, compared with a cold run; a refusal must name the object's path and say what
to do. The corpus itself is ``tests/test_real_programs.py``.
"""

import os
import subprocess
import sys
import textwrap

import pytest
from conftest import AMBER, run

MAIN = '\nif __name__ == "__main__":\n    print("ran", {shown})\n'


def script(text: str, shown: str) -> str:
    """A program: ``text`` (indented as in the test) and a main block that prints ``shown``."""
    return textwrap.dedent(text) + MAIN.format(shown=shown)


def clean_env(**extra) -> dict:
    """The environment without the machine's own secret-looking variables."""
    from amber.capture.policy.secret_scan import SECRET_WORDS

    env = {k: v for k, v in os.environ.items() if not any(w in k.upper() for w in SECRET_WORDS)}
    env.update(extra)
    return env


def snapshot(p, env=None):
    return subprocess.run([*AMBER, "snapshot", "-o", str(p.image), str(p.script)], cwd=p.dir,
                          env=clean_env(**(env or {})), capture_output=True, text=True, timeout=300)


def restores_as_cold(p, env=None) -> str:
    cold = run([sys.executable, str(p.script)], cwd=p.dir, env=clean_env(**(env or {})), check=True)
    r = snapshot(p, env)
    assert r.returncode == 0, r.stderr
    assert "error" not in r.stderr and "secret" not in r.stderr, r.stderr
    restored = run([*AMBER, "restore", str(p.image)], cwd=p.dir, env=clean_env(**(env or {})), check=True)
    assert restored.stdout == cold.stdout and "ran" in cold.stdout
    return cold.stdout


def refused(p, path: str, env=None, hidden: str = "") -> str:
    r = snapshot(p, env)
    assert r.returncode == 2 and not p.image.exists(), r.stderr
    assert path in r.stderr, r.stderr
    assert "amber.secret(NAME)" in r.stderr and "amber.transient" in r.stderr, r.stderr
    if hidden:
        assert hidden not in r.stderr
    return r.stderr


# == secrets: what is no secret, beside what still is ================================================

def installed_package(root, name: str, files: dict, recorded: bool = True) -> None:
    """A package in ``root`` as pip installs it: its files, and a dist-info whose RECORD lists them
    (``recorded=False``: a project installed in editable mode, whose RECORD lists no source)."""
    pkg = root / name
    pkg.mkdir(parents=True)
    for filename, source in files.items():
        (pkg / filename).write_text(textwrap.dedent(source))
    info = root / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    listed = [f"{name}/{f},sha256=x,1" for f in files] if recorded else [f"__editable__.{name}.pth,,"]
    (info / "RECORD").write_text("\n".join([*listed, f"{name}-1.0.dist-info/RECORD,,"]) + "\n")


PUBLISHED = '''
    """Tables a library writes in its source: magic names (``pwd``) mapped to classes, and the
    documentation of a ``password`` option, kept by the objects the import makes."""
    TABLE = {"line": {"alias": "published.osm:OSMagics", "pwd": "published.osm:OSMagics",
                      "cd": "Kq7-vX2mZ9pL"}}
    PASSWORDS = {"pwd": "Kq7-vX2mZ9pL"}


    class Doc:
        def __init__(self, documentation):
            self.documentation = documentation


    def option(hide_input: Doc("""Hide what is typed, as for a password:

            def login(
                password: Annotated[str, Option(prompt=True, hide_input=True)],
            ): ...
            """) = False):
        return hide_input
    '''


def published_program(program, tmp_path, recorded: bool = True):
    site = tmp_path / "site"
    installed_package(site, "published", {"__init__.py": PUBLISHED}, recorded)
    return program(script(f'''
        import sys
        sys.path.insert(0, {str(site)!r})
        import published
        ''', shown='published.TABLE["line"]["pwd"], published.PASSWORDS["pwd"][:3]'))


def test_a_constant_of_an_installed_distributions_source_is_no_secret(program, tmp_path):
    """A literal of a file that an installed distribution's RECORD lists is the same text in
    every installation: kept under a secret's name (``pwd``, ``password: ...`` in a docstring
    held by an annotation), it is let through."""
    assert "published.osm:OSMagics Kq7" in restores_as_cold(published_program(program, tmp_path))


def test_the_same_constant_in_the_programs_own_files_is_refused(program, tmp_path):
    """The program's own source (a module of an editable install, the script) is not published:
    the same literal kept under a secret's name is refused, naming its path."""
    p = published_program(program, tmp_path, recorded=False)
    err = refused(p, "published.PASSWORDS['pwd'] -> str: is kept under the secret-looking name 'pwd'",
                  hidden="Kq7-vX2mZ9pL")
    assert "published.option.__annotations__['hide_input'].documentation -> str: contains a value " \
           "under the secret-looking name 'password'" in err
    own = program(script('CONFIG = {"pwd": "Kq7-vX2mZ9pL"}', "1"), name="own.py")
    refused(own, "__main__.CONFIG['pwd']", hidden="Kq7-vX2mZ9pL")


def test_a_secret_an_installed_module_reads_at_start_up_is_refused(program, tmp_path):
    """A published module whose import reads a secret (an environment variable, a file) under a
    secret's name: the value is not a constant of its code, and is refused."""
    site = tmp_path / "site"
    (tmp_path / "token.txt").write_text("Zq81-wLp0vXk3\n")
    installed_package(site, "readsit", {"__init__.py": '''
        import os
        PASSWORD = os.environ["APP_DB_PASS"]
        with open(os.environ["APP_TOKEN_FILE"]) as f:
            SETTINGS = {"api_key": f.read().strip()}
        '''})
    p = program(script(f'''
        import sys
        sys.path.insert(0, {str(site)!r})
        import readsit
        ''', shown="len(readsit.PASSWORD)"))
    env = {"APP_DB_PASS": "Hx7-pR2mq9Zt", "APP_TOKEN_FILE": str(tmp_path / "token.txt")}
    err = refused(p, "readsit.PASSWORD", env=env, hidden="Hx7-pR2mq9Zt")
    assert "readsit.SETTINGS['api_key'] -> str" in err and "Zq81-wLp0vXk3" not in err


def test_alphabets_object_references_and_addresses_are_no_secrets(program):
    """A character set in code-point order (httpx's ``PASSWORD_SAFE``), an object reference
    (``module:Class``) and pydantic's reference to a class by its ``id()`` under secret-looking
    names are no keys; a random value, or a number that is no address, in their place is."""
    p = program(script('''
        class APIKey:
            pass
        PASSWORD_SAFE = "".join(chr(i) for i in range(0x21, 0x7F) if chr(i) not in "/:;=@[\\\\]^|")
        MAGICS = {"pwd": "app.magics.osm:OSMagics"}
        SCHEMA = {"ref": f"{__name__}.APIKey:{id(APIKey)}"}
        ''', shown="len(PASSWORD_SAFE), MAGICS['pwd'], SCHEMA['ref'].split(':')[0]"))
    assert "ran 84 app.magics.osm:OSMagics __main__.APIKey" in restores_as_cold(p)
    made = program(script('''
        import hashlib, os
        API_PASSWORD = hashlib.sha256(os.urandom(16)).hexdigest()[:24]
        SCHEMA = {"ref": "service.APIKey:" + os.environ["APP_PIN_CODE"]}
        ''', shown="1"), name="made.py")
    err = refused(made, "__main__.API_PASSWORD -> str", env={"APP_PIN_CODE": "80734912664021"},
                  hidden="80734912664021")
    assert "__main__.SCHEMA['ref'] -> str: contains a value under the secret-looking name" in err


def test_a_key_made_at_start_up_is_refused_with_what_to_do(program):
    """A Fernet-like object keeps keys derived at start-up under ``_encryption_key``: refused,
    naming the path and the ways out (amber.secret, an after_restore hook, amber.transient)."""
    p = program(script('''
        import base64, hashlib, os
        class Fernet:
            def __init__(self, key):
                key = base64.urlsafe_b64decode(key)
                self._signing_key, self._encryption_key = key[:16], key[16:]
        FERNET = Fernet(base64.urlsafe_b64encode(hashlib.sha256(os.urandom(8)).digest()))
        ''', shown="len(FERNET._encryption_key)"))
    refused(p, "__main__.FERNET._encryption_key -> bytes: is kept under the secret-looking name")


KEEPS_LINES = '''
    """A library that reads its own source lines at import, as ``inspect.stack()`` and tracebacks do
    (they fill linecache's cache with every line of each file on the stack)."""
    import linecache


    def make_key(root, create=False):
        secret = derive.signing_key(root, create=create)
        return secret


    LINES = len(linecache.getlines(__file__))
    '''


def test_lines_of_a_published_file_in_linecache_are_no_secret(program, tmp_path):
    """torch's import calls ``inspect.stack()``: linecache then holds every line of each file on
    the stack, Amber's own ``session.py`` among them (``secret = keys.secret_key(...)``), which the
    guess by name refused. Whole lines of a published file (an installed distribution's, the
    standard library's, Amber's own) are judged as its constants are; the same lines of the
    program's own file are still refused, naming the path."""
    site = tmp_path / "site"
    installed_package(site, "keepslines", {"__init__.py": KEEPS_LINES})
    p = program(script(f'''
        import inspect, sys
        sys.path.insert(0, {str(site)!r})
        import keepslines
        FRAMES = len(inspect.stack())
        ''', shown="keepslines.LINES, FRAMES > 0"))
    assert "ran 12 True" in restores_as_cold(p)
    own = tmp_path / "own"
    own.mkdir()
    (own / "keepslines.py").write_text(textwrap.dedent(KEEPS_LINES))
    mine = program(script(f'''
        import sys
        sys.path.insert(0, {str(own)!r})
        import keepslines
        ''', shown="keepslines.LINES"), name="mine.py")
    err = refused(mine, "][2][7] -> str: contains a value under the secret-looking name 'secret'")
    assert "  linecache.cache['" in err and "cannot capture 1 object(s)" in err


@pytest.mark.parametrize("value", ["0123456789abcdefghij", "!$%&'()*+,-.0123456789ABCDEFGHIJ"])
def test_alphabet_rule(value):
    from amber.capture.policy.secret_shapes import plausible

    assert not plausible(value)
    assert plausible("".join(reversed(value[:8])) + value[8:])  # out of order: could be a key


# == weakref.proxy: a proxy to the same referent, never the referent ================================

def test_weak_proxies_stay_proxies_to_the_same_object(program):
    """flask's JSON provider keeps ``weakref.proxy(app)``: captured through the proxy's forwarded
    attributes it became a second app. A proxy comes back a proxy of the same kind (callable or
    not) to the very object, with its callback; a proxy whose referent nothing else holds is dead."""
    p = program(script('''
        import weakref

        class App:
            def __init__(self):
                self.name = "app"
                self.provider = Provider(self)
            def __call__(self):
                return "called"

        class Plain:
            pass

        class Provider:
            def __init__(self, app):
                self._app = weakref.proxy(app)
                self.gone = weakref.proxy(Plain())

        def five():
            return 5

        def callback(ref):
            pass

        APP = App()
        PLAIN = Plain()
        PLAIN_PROXY = weakref.proxy(PLAIN)
        FIVE = weakref.proxy(five, callback)
        ''', shown='''type(APP.provider._app).__name__, type(PLAIN_PROXY).__name__, APP.provider._app(), FIVE(),
              weakref.getweakrefcount(APP), APP.provider._app.provider is APP.provider''') + '''
    APP.name = "changed"
    print(APP.provider._app.name, PLAIN_PROXY.__class__.__name__)
    try:
        APP.provider.gone.anything
    except ReferenceError:
        print("dead")
''')
    out = restores_as_cold(p)
    assert out == "ran CallableProxyType ProxyType called 5 1 True\nchanged Plain\ndead\n"


# == re.Scanner: a pattern compiled from a parse tree ===============================================

def test_a_regular_expression_scanner_keeps_its_compiled_pattern(program):
    """Python-Markdown's attr_list keeps a module-level ``re.Scanner``, whose pattern has no source
    (``pattern`` is None): it is compiled at capture from the Scanner's lexicon, as the Scanner
    did, and kept as code; the lexicon stays the very list."""
    p = program(script('''
        import re

        def word(scanner, token):
            return ("word", token)

        LEXICON = [(r"[a-z]+", word), (r"\\d+", lambda s, t: ("num", int(t))), (r"\\s+", None)]
        SCANNER = re.Scanner(LEXICON, re.I)
        SCANNER.label = "mine"
        ''', shown='SCANNER.scan("Abc 12 de!"), SCANNER.lexicon is LEXICON, SCANNER.label'))
    assert restores_as_cold(p).startswith("ran ([('word', 'Abc'), ('num', 12), ('word', 'de')], '!') True mine")


@pytest.mark.parametrize("how", ["alone", "lexicon changed"])
def test_a_pattern_without_source_that_cannot_be_made_again_is_refused(program, how):
    made = {"alone": 'PATTERN = re.Scanner([(r"a+", None)]).scanner',
            "lexicon changed": 'S = re.Scanner([(r"a+", None)])\nS.lexicon.append((r"b", None))\nPATTERN = S.scanner'}
    p = program(script("import re\n" + made[how], shown="PATTERN.match('aa')"))
    r = p.snapshot(check=False)
    assert r.returncode == 2 and not p.image.exists(), r.stderr
    assert "PATTERN -> re.Pattern: a regular expression compiled from a parse tree" in r.stderr, r.stderr
    assert "keep the re.Scanner that made it, unchanged, or make the pattern with re.compile" in r.stderr


# == C types and modules imported after the snapshot point =========================================

def test_a_c_type_whose_module_left_sys_modules_is_found_by_identity(program):
    """A C type whose own module is no longer in sys.modules at the snapshot point (as after a
    lazy loader's cleanup) is found by identity in a module imported after it that exports it
    (here: ``_contextvars``, imported again by the capture's own ``contextvars``), and the restore
    imports that module by name."""
    p = program(script('''
        import sys
        import _contextvars
        CONTEXT_VAR = _contextvars.ContextVar
        VAR = CONTEXT_VAR("var", default=7)
        del sys.modules["_contextvars"], _contextvars
        ''', shown='CONTEXT_VAR.__name__, VAR.get(), type(VAR) is CONTEXT_VAR'))
    assert restores_as_cold(p) == "ran ContextVar 7 True\n"


def test_a_reduce_that_imports_modules_is_refused_with_its_path(program, tmp_path):
    """celery's lazy proxies evaluate themselves in ``__reduce__``, which imports modules and
    makes objects: what capture would write is not the state at the snapshot point. Refused,
    naming the object and what it imported."""
    (tmp_path / "lazyhelper.py").write_text("MADE = []\n")
    p = program(script('''
        class Lazy:
            def __reduce__(self):
                import lazyhelper
                lazyhelper.MADE.append(1)
                return (Lazy, ())
        THING = Lazy()
        ''', shown="1"))
    r = p.snapshot(check=False)
    assert r.returncode == 2 and not p.image.exists(), r.stderr
    assert "__main__.THING: its __reduce__ imported lazyhelper" in r.stderr, r.stderr
    assert "evaluate it before the snapshot point" in r.stderr


def test_capture_never_asks_a_lazy_proxy_its_class(program, tmp_path):
    """isinstance() asks an object's ``__class__``, which a lazy proxy (celery's ``Proxy``) answers
    by evaluating itself: deciding which modules are imported again judges module values by
    ``type()`` only, so start-up's lazy objects are still unevaluated after restore."""
    (tmp_path / "lazymod.py").write_text(textwrap.dedent('''
        EVALUATED = []

        class Proxy:
            def __init__(self, factory):
                object.__setattr__(self, "_factory", factory)

            @property
            def __class__(self):
                EVALUATED.append(self._factory)
                return type(self._factory())

            def __reduce__(self):
                return (Proxy, (self._factory,))

        current = Proxy(dict)
        '''))
    p = program(script('''
        import lazymod
        ''', shown="len(lazymod.EVALUATED)"))
    assert restores_as_cold(p) == "ran 0\n"


# == sqlite3 connections ============================================================================

SQLITE = '''
    import os, sqlite3

    class Conn(sqlite3.Connection):
        pass

    HERE = os.path.dirname(os.path.abspath(__file__))
    MEM = sqlite3.connect(":memory:", detect_types=sqlite3.PARSE_DECLTYPES | sqlite3.PARSE_COLNAMES,
                          isolation_level=None, cached_statements=7, factory=Conn)
    MEM.row_factory = sqlite3.Row
    MEM.execute("create table t (a integer, d date)")
    MEM.execute("insert into t values (1, '2024-05-06'), (2, '2025-01-02')")
    FILE = sqlite3.connect(os.path.join(HERE, "app.db"), check_same_thread=False, timeout=2.5)
    FILE.text_factory = bytes
    FILE.execute("create table if not exists kv (k text primary key, v text)")
    FILE.execute("insert or replace into kv values ('a', 'one')")
    FILE.commit()
    CLOSED = sqlite3.connect(":memory:")
    CLOSED.close()
'''
SQLITE_MAIN = '''
    import threading
    rows = MEM.execute("select * from t").fetchall()
    print(type(MEM).__name__, [dict(r) for r in rows], MEM.execute('select 1 as "x [y]"').description[0][0])
    print(MEM.isolation_level, MEM.in_transaction, FILE.execute("pragma busy_timeout").fetchone())
    print(FILE.execute("select v from kv").fetchall(), FILE.isolation_level)
    box = []
    worker = threading.Thread(target=lambda: box.append(FILE.execute("select k from kv").fetchone()))
    worker.start(); worker.join(); print("other thread", box)
    try:
        CLOSED.execute("select 1")
    except sqlite3.ProgrammingError as e:
        print("closed:", e)
'''


def test_sqlite_connections_are_opened_again_with_their_settings(program, tmp_path):
    """An in-memory database comes back with its contents (``serialize``/``deserialize``), a file
    database is opened again by its path; both with the settings they were opened with (types
    detected, isolation level, thread check, timeout, factory class, row and text factories);
    a closed connection stays closed. The file changed after the snapshot is what restore reads."""
    p = program(script(SQLITE, shown="1") + textwrap.indent(textwrap.dedent(SQLITE_MAIN), "    "))
    out = restores_as_cold(p)
    assert "Conn [{'a': 1, 'd': datetime.date(2024, 5, 6)}" in out and "\nNone False (2500,)\n" in out
    assert "[(b'one',)] " in out and "other thread [(b'a',)]" in out and "closed: Cannot operate" in out
    import sqlite3

    with sqlite3.connect(tmp_path / "app.db") as db:
        db.execute("update kv set v = 'two'")
    assert "[(b'two',)] " in run([*AMBER, "restore", str(p.image)], cwd=tmp_path, check=True).stdout


@pytest.mark.parametrize("case", ["transaction", "function", "collation", "attached", "temp table"])
def test_sqlite_connections_that_cannot_be_made_again_are_refused(program, case):
    made = {"transaction": ('DB.execute("create table t (a)")\nDB.execute("insert into t values (1)")',
                            "a transaction open"),
            "function": ('DB.create_function("twice", 1, lambda x: 2 * x)', "SQL function(s) registered "
                         "from Python (twice)"),
            "collation": ('DB.create_collation("rev", lambda a, b: -1)', "collation(s) registered from "
                          "Python (rev)"),
            "attached": ('DB.execute("attach database \':memory:\' as other")', "attached database(s) (other)"),
            "temp table": ('DB.execute("create temp table scratch (a)")', "tables of its temp schema")}
    source, why = made[case]
    p = program(script("import sqlite3\nDB = sqlite3.connect(':memory:')\n" + source, shown="1"))
    r = p.snapshot(check=False)
    assert r.returncode == 2 and not p.image.exists(), r.stderr
    assert f"__main__.DB -> sqlite3.Connection: an sqlite3 connection with {why}" in r.stderr, r.stderr
    assert "open it after the snapshot point, or make it with amber.transient" in r.stderr


def test_an_sqlite_connection_subclass_keeps_its_attributes_and_a_callback_is_refused(program):
    p = program(script('''
        import sqlite3
        class Conn(sqlite3.Connection):
            pass
        DB = sqlite3.connect(":memory:", factory=Conn)
        DB.label = "mine"
        ''', shown="DB.label, DB.execute('select 2').fetchone()"))
    assert restores_as_cold(p) == "ran mine (2,)\n"
    watched = program(script('''
        import sqlite3
        DB = sqlite3.connect(":memory:")
        DB.set_authorizer(lambda *args: sqlite3.SQLITE_OK)
        ''', shown="1"), name="watched.py")
    r = watched.snapshot(check=False)
    assert r.returncode == 2 and "__main__.DB -> sqlite3.Connection: an sqlite3 connection with a " \
        "callback set" in r.stderr, r.stderr


# == ctypes libraries and their functions ===========================================================

def test_ctypes_libraries_and_their_functions_are_loaded_again(program):
    """trio keeps ``partial(namefunc, libpthread.pthread_setname_np)``: a library is loaded again by
    its name (and errno flags), a function looked up again by its symbol with its argtypes,
    restype and errcheck; the library's cache of functions keeps their identity."""
    p = program(script('''
        import ctypes, ctypes.util
        from functools import partial

        def checked(result, func, args):
            return ("checked", result)

        LIBC = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        STRLEN = LIBC.strlen
        STRLEN.argtypes = [ctypes.c_char_p]
        STRLEN.restype = ctypes.c_size_t
        ABS = LIBC["abs"]
        ABS.errcheck = checked
        CALL = partial(STRLEN, b"hello")
        PROGRAM = ctypes.CDLL(None)
        ''', shown="CALL(), ABS(-4), STRLEN is LIBC.strlen, ctypes.get_errno() == 0, "
                   "PROGRAM.getpid() > 0, STRLEN.__name__"))
    assert restores_as_cold(p) == "ran 5 ('checked', 4) True True True strlen\n"


def test_a_ctypes_callback_is_refused_with_its_path(program):
    p = program(script('''
        import ctypes
        COMPARE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)(lambda x: x)
        ''', shown="COMPARE(3)"))
    r = p.snapshot(check=False)
    assert r.returncode == 2 and not p.image.exists(), r.stderr
    assert "__main__.COMPARE -> ctypes.CFUNCTYPE.<locals>.CFunctionType: a ctypes function pointer that is " \
           "no symbol of a loaded library" in r.stderr, r.stderr
    assert "make it again after restore, in an amber.after_restore hook" in r.stderr


def test_a_class_that_is_its_own_type(program):
    """h11's sentinels: a metaclass's ``__new__`` sets ``v.__class__ = v``."""
    p = program(script('''
        class Sentinel(type):
            def __new__(cls, name, bases, namespace, **kw):
                v = super().__new__(cls, name, bases, namespace, **kw)
                v.__class__ = v
                return v
            def __repr__(self):
                return self.__name__

        class CLIENT(Sentinel, metaclass=Sentinel):
            pass

        STATES = {CLIENT: "client"}
        ''', shown="CLIENT, type(CLIENT) is CLIENT, STATES[CLIENT], isinstance(CLIENT, Sentinel)"))
    assert restores_as_cold(p) == "ran CLIENT True client True\n"


def test_a_tuple_of_a_module_imported_again_held_by_the_program(program):
    """Immutable containers are written by value (equal ones are interchangeable); verification
    describes them by what they hold too, not as the very object a module imported again keeps
    (vine's ``wraps`` defaults are ``functools.WRAPPER_ASSIGNMENTS``: a false difference that
    refused the snapshot, or made Amber import a package again for nothing)."""
    p = program(script('''
        import functools, string
        HOLDER = {"a": functools.WRAPPER_ASSIGNMENTS, "b": frozenset(string.digits)}
        ''', shown='HOLDER["a"] == functools.WRAPPER_ASSIGNMENTS, len(HOLDER["b"])'))
    assert restores_as_cold(p) == "ran True 10\n"


# == warnings issued during start-up ================================================================

def test_a_warning_issued_by_an_import_is_the_importers(program, tmp_path):
    """Amber's hook around the import system is named as part of it, so warnings skip its frame:
    a module's import-time warning (``stacklevel=2``) names the importer, as in a cold run, and
    the importer's ``__warningregistry__`` records it."""
    (tmp_path / "oldmod.py").write_text('import warnings\nwarnings.warn("old", DeprecationWarning, stacklevel=2)\n')
    (tmp_path / "user_of_old.py").write_text("import oldmod\n")
    p = program(script('''
        import json, warnings
        warnings.simplefilter("default")
        import user_of_old
        # a registry of a module imported again, filled during start-up
        warnings.warn_explicit("seen", UserWarning, "json.py", 1, module="json",
                               registry=json.__dict__.setdefault("__warningregistry__", {}))
        ''', shown='"__warningregistry__" in vars(user_of_old)'))
    r = snapshot(p)
    assert r.returncode == 0, r.stderr
    assert "user_of_old.py:1: DeprecationWarning: old" in r.stderr and "amber" not in r.stderr.split("old")[0]
    restored = run([*AMBER, "restore", str(p.image)], cwd=p.dir, check=True)
    assert restored.stdout == "ran True\n"


def test_a_module_the_program_puts_in_sys_modules_main(program):
    """IPython's InteractiveShell puts its user namespace, a module of its own, in
    ``sys.modules['__main__']``: after restore it is there again (the script still runs in its
    own module)."""
    p = program(script('''
        import sys, types
        USER = types.ModuleType("__main__", "the user's namespace")
        USER.answer = 42
        SCRIPT = sys.modules["__main__"]
        sys.modules["__main__"] = USER
        ''', shown='sys.modules["__main__"] is USER, sys.modules["__main__"].answer, '
                   'SCRIPT is not USER, __doc__ is None'))
    assert restores_as_cold(p) == "ran True 42 True True\n"
