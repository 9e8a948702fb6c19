"""The secret scan's misses and false alarms, and random state seeded on purpose: each program runs
for real (``amber snapshot``, then ``amber restore`` in a fresh process).

Every "holds a secret" program keeps the secret in a different form or kind of memory and must be
refused (exit 2, no image, the path named, the value never printed); every "holds no secret"
program must snapshot and restore with the output of a cold run.
"""

import os
import textwrap

import pytest
from conftest import AMBER, run

TOKEN = "tok_9fQ2xL7vR4mZ8kW1pB6n"  # an API token, in the environment as SERVICE_TOKEN
HEX_KEY = "8f3a9c1e5b7d2f4a6c8e0b1d3f5a7c9e2b4d6f8a0c1e3b5d7f9a2c4e6b8d0f1a"  # 32 bytes, as hex
B64_KEY = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA="  # 32 bytes, as base64
ENV = {"SERVICE_TOKEN": TOKEN, "SIGNING_KEY": HEX_KEY, "SESSION_SECRET": B64_KEY}


def clean_env(**extra):
    """The environment without the machine's own secret-looking variables."""
    from amber.capture.policy.secret_scan import SECRET_WORDS

    env = {k: v for k, v in os.environ.items() if not any(w in k.upper() for w in SECRET_WORDS)}
    env.update(extra)
    return env


def said(stderr):
    """What Amber said, but for the note that the first snapshot of a test run made a signing key."""
    return "".join(line for line in stderr.splitlines(True) if "created a signing key" not in line)


def snapshot(p, *args, env=None):
    import subprocess

    return subprocess.run([*AMBER, "snapshot", *args, "-o", str(p.image), str(p.script)], cwd=p.dir,
                          env=clean_env(**(env or {})), capture_output=True, text=True, timeout=300)


def refused(p, path, *args, env=ENV):
    r = snapshot(p, *args, env=env)
    assert r.returncode == 2 and not p.image.exists(), r.stderr
    assert path in r.stderr, r.stderr
    for value in (TOKEN, HEX_KEY, B64_KEY, "Zx9-Plumb!42", "hunter2-db-9"):
        assert value not in r.stderr
    return r.stderr


# == holds a secret: refused ========================================================================
HOLDS_A_SECRET = {
    "bytearray": ('import os\nBUF = bytearray(os.environ["SERVICE_TOKEN"].encode())\n', "__main__.BUF"),
    "array of bytes": ('import array, os\nARR = array.array("B", os.environ["SERVICE_TOKEN"].encode())\n',
                       "__main__.ARR"),
    "array of unicode": ('import array, os\nARR = array.array("u", os.environ["SERVICE_TOKEN"])\n',
                         "__main__.ARR"),
    "utf-16": ('import os\nWIDE = os.environ["SERVICE_TOKEN"].encode("utf-16")\n', "__main__.WIDE"),
    "utf-32 big-endian": ('import os\nWIDE = os.environ["SERVICE_TOKEN"].encode("utf-32-be")\n',
                          "__main__.WIDE"),
    "hex-decoded key": ('import os\nKEY = bytes.fromhex(os.environ["SIGNING_KEY"])\n', "__main__.KEY"),
    "half of a hex-decoded key": ('import os\nMAC_KEY = bytes.fromhex(os.environ["SIGNING_KEY"])[16:]\n',
                                  "__main__.MAC_KEY"),
    "base64-decoded key": ('import base64, os\nKEY = base64.b64decode(os.environ["SESSION_SECRET"])\n',
                           "__main__.KEY"),
    "substring of a decoded key": (
        'import base64, os\nKEYS = {"enc": base64.b64decode(os.environ["SESSION_SECRET"])[3:21]}\n',
        "__main__.KEYS['enc']"),
    "re.escape": ('import os, re\nPATTERN = re.escape(os.environ["SERVICE_TOKEN"] + "+x")\n',
                  "__main__.PATTERN"),
    "json-escaped": ('import json, os\nBODY = json.dumps({"t": os.environ["SERVICE_TOKEN"] + "\\u00e9"})\n',
                     "__main__.BODY"),
    "credential url": ('DSN = "postgresql://app:Zx9-Plumb!42@db.internal:5432/orders"\n', "__main__.DSN"),
    "ini file": ('import configparser\nC = configparser.ConfigParser()\n'
                 'C.read_string("[db]\\nhost = db.internal\\npassword = hunter2-db-9\\n")\n',
                 "__main__.C"),
    "dotenv text": ('TEXT = "HOST=db.internal\\nDB_PASSWORD=hunter2-db-9\\n"\n', "__main__.TEXT"),
    "dict key": ('CONFIG = {"user": "app", "api_key": "Zx9-Plumb!42"}\n', "__main__.CONFIG['api_key']"),
    "attribute": ('class Client:\n    def __init__(self):\n        self.auth_token = "Zx9-Plumb!42"\n'
                  'CLIENT = Client()\n', "__main__.CLIENT.auth_token"),
    "environ set during start-up": ('import os\nos.environ["DB_PASSWORD"] = "hunter2-db-9"\n',
                                    "os.environ['DB_PASSWORD']"),
    "random key in a secret's name": ('import os\nSECRET_KEY = os.urandom(24)\n', "__main__.SECRET_KEY"),
}


@pytest.mark.parametrize("case", sorted(HOLDS_A_SECRET))
def test_a_program_holding_a_secret_is_refused(program, case):
    source, path = HOLDS_A_SECRET[case]
    p = program(source + 'if __name__ == "__main__":\n    print("ran")\n')
    refused(p, path)


def numpy_program(program, source):
    pytest.importorskip("numpy")
    return program("import os\nimport numpy as np\n" + source + 'if __name__ == "__main__":\n    print("ran")\n')


def test_numpy_text_arrays_are_scanned(program):
    p = numpy_program(program, 'NAMES = np.array(["svc", os.environ["SERVICE_TOKEN"]])\n')  # dtype U
    assert "-> numpy.ndarray" in refused(p, "__main__.NAMES")


def test_numpy_bytes_arrays_are_scanned(program):
    p = numpy_program(program, 'RAW = np.array([os.environ["SERVICE_TOKEN"].encode()])\n')  # dtype S
    refused(p, "__main__.RAW")


def test_large_mapped_buffers_are_scanned(program):
    p = numpy_program(program, 'KEY = bytes.fromhex(os.environ["SIGNING_KEY"])\n'
                               'BIG = np.zeros(1 << 21, dtype=np.uint8)\n'
                               'BIG[12345:12345 + len(KEY)] = np.frombuffer(KEY, dtype=np.uint8)\n'
                               'del KEY\n')
    refused(p, "__main__.BIG")


def test_allow_secret_lets_every_kind_of_hit_through(program):
    p = program('''
        import os
        TOKEN = os.environ["SERVICE_TOKEN"]
        CONFIG = {"password": "hunter2-db-9"}
        DSN = "redis://:Zx9-Plumb!42@cache:6379/0"
        PEM = ("-----BEGIN PRIVATE KEY-----\\n" + "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7" * 3
               + "\\n-----END PRIVATE KEY-----\\n")
        KEY_ID = "AKIA" + "Q3EGRT5JX7MZ2WNB"
        if __name__ == "__main__":
            print(TOKEN == os.environ["SERVICE_TOKEN"], CONFIG["password"][:3], DSN[:5], PEM[11:18], KEY_ID[:4])
    ''')
    err = refused(p, "__main__.TOKEN")
    for path in ("__main__.CONFIG['password']", "__main__.DSN", "__main__.PEM", "__main__.KEY_ID"):
        assert path in err
    allow = ["--allow-secret", "SERVICE_TOKEN", "--allow-secret", "password", "--allow-secret",
             "url-password", "--allow-secret", "private-key", "--allow-secret", "cloud-key-id"]
    r = snapshot(p, *allow, env=ENV)
    assert r.returncode == 0, r.stderr
    assert p.restore(env=ENV).stdout == "True hun redis PRIVATE AKIA\n"


# == holds no secret: snapshots =====================================================================
HOLDS_NO_SECRET = {
    "PEM markers in a docstring": '''
        def load(text):
            """Load a key: the text starts with -----BEGIN RSA PRIVATE KEY----- or
            -----BEGIN OPENSSH PRIVATE KEY-----, and ends with -----END PRIVATE KEY-----."""
            return text
        MARKER = "-----BEGIN PRIVATE KEY-----"
    ''',
    "example cloud key id in a docstring": '''
        def client(key_id="AKIAIOSFODNN7EXAMPLE", secret="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"):
            """Example: client("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")."""
            return key_id
    ''',
    "agent socket path in the environment": '''
        import os
        ENV = dict(os.environ)
    ''',
    "key file variable": '''
        import os
        KEY_FILE = os.environ["TLS_KEY_FILE"]
        SETTINGS = {"private_key": "/etc/x.pem", "token_path": "/run/secrets/token", "password_file": "pw.txt"}
    ''',
    "placeholders under secret names": '''
        DEFAULTS = {"password": "", "token": None, "api_key": "YOUR_API_KEY", "secret": "<secret>",
                    "passwd": "${DB_PASSWORD}", "pwd": "%(pwd)s", "client_secret": "changeme"}
        HELP = "password = getpass.getpass()\\ntoken = tokens.pop()\\nsecret_key = settings.SECRET_KEY\\n"
    ''',
    "a documentation DSN": '''
        """Connect with create_engine("postgresql://scott:tiger@localhost/test")."""
        URL = "https://user:password@example.com/"
    ''',
    "tokenizer words": '''
        import tokenize, io
        TOKENS = [t.string for t in tokenize.generate_tokens(io.StringIO("password = 1\\n").readline)]
        class Lexer:
            token = "identifier"
            token_type = "NAME"
    ''',
    "numbers that happen to be big": '''
        import array
        DATA = array.array("d", range(100000))
        BLOB = bytes(range(256)) * 64
    ''',
    "url without a password in a secret-looking variable": '''
        import os
        AUTH = os.environ["AUTH_URL"]
        TOKEN_ENDPOINT = AUTH + "/token"
    ''',
}
NO_SECRET_ENV = {"SSH_AUTH_SOCK": "/tmp/ssh-x/agent.1", "TLS_KEY_FILE": "/etc/x.pem",
                 "AUTH_URL": "https://login.example.com/oauth2", "SECRETS_ENABLED": "true"}


@pytest.mark.parametrize("case", sorted(HOLDS_NO_SECRET))
def test_a_program_holding_no_secret_snapshots(program, case):
    p = program(textwrap.dedent(HOLDS_NO_SECRET[case]) + '\nif __name__ == "__main__":\n    print("ran")\n')
    r = snapshot(p, env=NO_SECRET_ENV)
    assert r.returncode == 0 and said(r.stderr) == "", r.stderr
    assert p.restore(env=clean_env(**NO_SECRET_ENV)).stdout == "ran\n"


def test_numpy_with_secret_looking_environment_snapshots(program):
    p = numpy_program(program, 'TABLE = np.arange(1 << 20, dtype=np.float64)\nNAMES = np.array(["a", "b"])\n')
    r = snapshot(p, env={**ENV, **NO_SECRET_ENV})
    assert r.returncode == 0 and "warning" not in r.stderr and "error" not in r.stderr, r.stderr


# == random state seeded on purpose =================================================================
SEEDED = '''
    import random
    random.seed(1234)
    FIRST = random.random()
    OWN = random.Random(99)
    OWN.random()
    if __name__ == "__main__":
        print(FIRST, random.random(), random.random(), OWN.random())
'''


def test_a_seeded_global_random_keeps_its_sequence(program):
    p = program(SEEDED)
    cold = p.cold(check=True).stdout
    r = snapshot(p)
    assert r.returncode == 0 and said(r.stderr) == "", r.stderr  # seeded on purpose: no warning
    assert p.restore().stdout == cold
    assert p.restore().stdout == cold


def test_a_seeded_numpy_global_keeps_its_sequence(program):
    p = numpy_program(program, 'np.random.seed(7)\nA = np.random.random()\nG = np.random.default_rng(5)\n'
                               'R = np.random.RandomState(3)\n'
                               'print_later = lambda: print(np.random.random(), G.random(), R.random())\n')
    p.script.write_text(p.script.read_text().replace('print("ran")', "print_later()"))
    cold = p.cold(check=True).stdout
    r = snapshot(p)
    assert r.returncode == 0 and "generator" not in r.stderr, r.stderr  # seeded: not reported
    assert p.restore().stdout == cold
    assert p.restore().stdout == cold


def test_unseeded_generators_are_still_fresh_and_reported(program):
    p = program('''
        import random
        X = random.random()
        OWN = random.Random()
        if __name__ == "__main__":
            print(random.random())
    ''')
    r = snapshot(p)
    assert r.returncode == 0 and "__main__.OWN is a random.Random generator" in r.stderr, r.stderr
    assert len({p.restore().stdout for _ in range(3)}) == 3


def test_capture_emits_no_warnings_of_its_own(program):
    p = program('''
        import sys, types, warnings
        class Old:
            @property
            def legacy(self):
                warnings.warn("Old.legacy is deprecated", FutureWarning, stacklevel=2)
                return 1
            def __reduce__(self):
                warnings.warn("pickling Old is deprecated", DeprecationWarning, stacklevel=2)
                return (Old, ())
        mod = types.ModuleType("legacy_mod")
        def __getattr__(name):
            warnings.warn(f"legacy_mod.{name} is deprecated", DeprecationWarning, stacklevel=2)
            raise AttributeError(name)
        mod.__getattr__ = __getattr__
        sys.modules["legacy_mod"] = mod
        OBJ = Old()
        if __name__ == "__main__":
            print(warnings.filters)
    ''')
    env = {"PYTHONWARNINGS": "error"}  # a warning Amber caused would stop the capture
    r = run([*AMBER, "snapshot", "-o", str(p.image), str(p.script)], cwd=p.dir, env=env)
    assert r.returncode == 0 and said(r.stderr) == "", r.stderr
    # The restored program has its own filters, not the capture's (a restore ignores PYTHONWARNINGS).
    assert p.restore().stdout == p.cold(check=True).stdout


def test_the_scan_leaves_no_trace_in_the_image(program):
    """The scan compiles what it looks for: never into re's cache, which a program captured by
    value (re included) carries into its image."""
    p = program('''
        import re
        WORDS = re.compile(r"\\w+").findall("no secret here")
        if __name__ == "__main__":
            print(WORDS)
    ''')
    r = snapshot(p, env=ENV)
    assert r.returncode == 0 and said(r.stderr) == "", r.stderr
    data = p.image.read_bytes()
    assert TOKEN.encode() not in data and bytes.fromhex(HEX_KEY)[:8] not in data


def test_the_quiet_capture_keeps_the_programs_warnings_module(program):
    """Capture sets a quiet copy of ``warnings`` in sys.modules; the program's modules must still
    hold the one module (sqlalchemy's tests saw two: 48 differed)."""
    p = program('''
        import sys, warnings
        W = warnings
        class Holder:
            mod = warnings
        if __name__ == "__main__":
            print(W is sys.modules["warnings"], Holder.mod is W, warnings.filters == W.filters)
    ''')
    p.snapshot()
    assert p.restore().stdout == p.cold(check=True).stdout == "True True True\n"


def test_credential_urls_in_documentation_are_no_secrets(program):
    """sqlalchemy's and pydantic's docs hold example URLs (``mssql+pyodbc://scott:tiger^5HHH@...``)
    in docstrings and code: what the author wrote is scanned for secrets' values and key shapes,
    not for the shapes a guess goes by. A URL with a password the program holds as a value (made at
    start-up, or a literal kept in a variable) still is one."""
    p = program('''
        """Connect with ``mssql+pyodbc://scott:tiger^5HHH@mssql2017:1433/test``."""
        def connect(url="postgres://db/prod"):
            """``MultiHostUrl('https://foo.com:123,foo:bar@bar.com/path')``"""
            if url.startswith("mysql"):
                return "mysql://u:Zz81kLq0pWx@h/db"  # a constant of the code: what the author wrote
            return url
        class Engine:
            """``create_engine("mysql://u:Zz81kLq0pW@h/db")``"""
        if __name__ == "__main__":
            print(connect()[:8])
    ''')
    p.snapshot()
    assert p.restore().stdout == "postgres\n"
    made = program('''
        import os
        USER, PASSWORD = "admin", "Xq9" + "vLr2mTz8w"
        URL = f"postgres://{USER}:{PASSWORD}@db/prod"
        if __name__ == "__main__":
            pass
    ''', name="made.py")
    r = made.snapshot(check=False)
    assert r.returncode == 2 and "a password in a URL" in r.stderr, r.stderr


def test_the_scan_never_runs_a_lazy_docstring(program):
    """sympy's lazy functions import their module from a ``__doc__`` property of their class:
    the scan reads docstrings where they are stored, so capture imports nothing."""
    p = program('''
        import sys
        class Meta(type):
            @property
            def __doc__(cls):
                import json  # (a module the program never imported)
                return "documented lazily"
        class Lazy(metaclass=Meta):
            @property
            def __doc__(self):
                import json
                return "documented lazily"
        THING = Lazy()
        if __name__ == "__main__":
            print("json" in sys.modules)
    ''')
    p.snapshot()
    assert p.restore().stdout == p.cold(check=True).stdout == "False\n"
