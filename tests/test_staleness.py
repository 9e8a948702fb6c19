"""The staleness matrix: ways start-up can depend on the world, each tried against ``amber run``.

Each row is a program whose start-up depends on the world in one way, and a change to that
world. The row builds an image (first run), restores it (second run), changes the world, and
runs again: that output must equal a cold ``python SCRIPT`` in the changed world. The result
column says what Amber did on that third run: ``built`` (a new image), ``cold`` (no image can
serve this program, it ran normally), or ``restored`` (the change is not an input, and the
output is still a cold run's). Zero rows may be stale. The README's table "What amber run
watches" lists exactly these rows (a test keeps them equal).
"""

import os
import re
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from conftest import AMBER

ROWS: dict = {}  # name -> (what happens on the third run, the test)
README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def row(name: str, expect: str):
    def register(fn):
        ROWS[name] = (expect, fn)
        return fn

    return register


class World:
    """A directory with a program, its cache, and the environment and directory it runs in."""

    def __init__(self, tmp_path, source: str, files: dict | None = None) -> None:
        self.dir = tmp_path / "app"
        self.dir.mkdir()
        self.cache = tmp_path / "cache"
        self.script = self.dir / "app.py"
        self.script.write_text(textwrap.dedent(source))
        for rel, text in (files or {}).items():
            self.write(rel, text)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AMBER_")}
        self.env["AMBER_CACHE"] = str(self.cache)
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.cwd = self.dir
        self.stdin = b""
        self.log: list = []  # what amber run said, run by run (shown when a row fails)

    def path(self, rel: str):
        return self.dir / rel

    def write(self, rel: str, text: str) -> None:
        p = self.path(rel)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)

    def edit_keeping_size_and_mtime(self, rel: str, text: str) -> None:
        p = self.path(rel)
        st = os.stat(p)
        assert len(text.encode()) == st.st_size, "the edit must keep the size"
        p.write_text(text)
        os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))  # `touch -d`: only ctime (and content) tell

    def replace_keeping_size_and_mtime(self, rel: str, text: str) -> None:
        p = self.path(rel)
        st = os.stat(p)
        new = p.with_name(p.name + ".new")
        new.write_text(text)
        os.utime(new, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.replace(new, p)

    def _run(self, cmd):
        p = subprocess.run(cmd, cwd=self.cwd, env=self.env, input=self.stdin, capture_output=True, timeout=120)
        return p

    def amber(self) -> tuple:
        p = self._run([*AMBER, "run", "--wait", "-v", str(self.script)])
        err = p.stderr.decode(errors="replace")
        assert "Traceback" not in err or "Traceback" in self.cold_err, err
        how = "restored" if "amber: restoring" in err else "built" if "amber: built" in err else "cold"
        self.log.append(err)
        return how, p.stdout.decode(errors="replace"), p.returncode

    cold_err = ""

    def cold(self) -> tuple:
        p = self._run([sys.executable, str(self.script)])
        self.cold_err = p.stderr.decode(errors="replace")
        return p.stdout.decode(errors="replace"), p.returncode


def check(w: World, change, second: str = "restored") -> str:
    """Build, restore, change, run again: the third run must be a cold run's; return how it ran."""
    how, out, rc = w.amber()
    assert (out, rc) == w.cold(), "the first run differs from a cold one"
    assert how in ("built", "cold"), how
    how, out, rc = w.amber()
    assert how == second, f"second run: {how}: {w.log}"
    assert (out, rc) == w.cold(), "the second run differs from a cold one"
    change(w)
    how, out, rc = w.amber()
    cold = w.cold()
    assert (out, rc) == cold, f"STALE: after the change amber run printed {out!r}, a cold run {cold[0]!r}"
    return how


PRINTS = '''
import amber
if __name__ == "__main__":
    print(VALUE)
'''


def program(startup: str) -> str:
    return textwrap.dedent(startup) + PRINTS


# == source and data files ========================================================================

@row("the script is edited", "built")
def _script(tmp_path):
    w = World(tmp_path, program("VALUE = 'one'"))
    return check(w, lambda w: w.write("app.py", w.script.read_text().replace("'one'", "'two'")))


@row("the script is edited keeping its size and mtime", "built")
def _script_same_stat(tmp_path):
    w = World(tmp_path, program("VALUE = 'one'"))
    return check(w, lambda w: w.edit_keeping_size_and_mtime("app.py", w.script.read_text().replace("one", "two")))


@row("an imported module is edited keeping its size and mtime", "built")
def _module_same_stat(tmp_path):
    w = World(tmp_path, program("from helper import VALUE"), {"helper.py": "VALUE = 'one'\n"})
    return check(w, lambda w: w.edit_keeping_size_and_mtime("helper.py", "VALUE = 'two'\n"))


@row("an imported module is replaced by a rename keeping size and mtime", "built")
def _module_renamed(tmp_path):
    w = World(tmp_path, program("from helper import VALUE"), {"helper.py": "VALUE = 'one'\n"})
    return check(w, lambda w: w.replace_keeping_size_and_mtime("helper.py", "VALUE = 'two'\n"))


READS_DATA = "import os\nVALUE = open(os.path.join(os.path.dirname(__file__), 'data.txt')).read()"


@row("a data file read with open() is edited", "built")
def _data(tmp_path):
    w = World(tmp_path, program(READS_DATA), {"data.txt": "one"})
    return check(w, lambda w: w.write("data.txt", "three"))


@row("a data file is edited keeping its size and mtime", "built")
def _data_same_stat(tmp_path):
    w = World(tmp_path, program(READS_DATA), {"data.txt": "one"})
    return check(w, lambda w: w.edit_keeping_size_and_mtime("data.txt", "two"))


@row("a data file is replaced by a rename keeping size and mtime", "built")
def _data_renamed(tmp_path):
    w = World(tmp_path, program(READS_DATA), {"data.txt": "one"})
    return check(w, lambda w: w.replace_keeping_size_and_mtime("data.txt", "two"))


OPTIONAL = """
import os
p = os.path.join(os.path.dirname(__file__), 'extra.cfg')
try:
    VALUE = open(p).read()
except FileNotFoundError:
    VALUE = 'default'
"""


@row("a data file start-up read is deleted", "built")
def _data_deleted(tmp_path):
    w = World(tmp_path, program(OPTIONAL), {"extra.cfg": "custom"})
    return check(w, lambda w: w.path("extra.cfg").unlink())


@row("an optional file that was absent appears", "built")
def _data_appears(tmp_path):
    w = World(tmp_path, program(OPTIONAL))
    return check(w, lambda w: w.write("extra.cfg", "custom"))


@row("a data file is changed by another process while start-up runs", "built")
def _changed_meanwhile(tmp_path):
    w = World(tmp_path, program("""
        import os, time
        here = os.path.dirname(__file__)
        VALUE = open(os.path.join(here, 'data.txt')).read()
        if os.environ.get('WAIT_FOR_GO'):
            open(os.path.join(here, 'ready'), 'w').close()
            while not os.path.exists(os.path.join(here, 'go')):
                time.sleep(0.01)
        """), {"data.txt": "one"})
    w.env["WAIT_FOR_GO"] = "1"

    def edit_during_startup():
        while not w.path("ready").exists():
            time.sleep(0.01)
        w.write("data.txt", "two")  # after start-up read it, before its snapshot point
        w.write("go", "")

    t = threading.Thread(target=edit_during_startup)
    t.start()
    how, out, _rc = w.amber()
    t.join()
    assert (how, out) == ("built", "one\n")
    how, out, rc = w.amber()
    assert (out, rc) == w.cold(), "STALE: the image holds what start-up read before the change"
    return how


@row("start-up rewrites a file it read (a counter)", "cold")
def _counter(tmp_path):
    w = World(tmp_path, program("""
        import os
        p = os.path.join(os.path.dirname(__file__), 'count.txt')
        VALUE = int(open(p).read())
        open(p, 'w').write(str(VALUE + 1))
        """), {"count.txt": "1"})
    how, out, _ = w.amber()
    assert how == "cold" and out == "1\n"
    how, out, _ = w.amber()
    assert how == "cold" and out == "2\n"  # as a cold run: every run counts
    assert w.cold()[0] == "3\n"
    how, out, _ = w.amber()
    assert out == "4\n"
    return how


@row("start-up writes back a file it read, unchanged; then it is edited", "built")
def _written_back(tmp_path):
    w = World(tmp_path, program("""
        import os
        p = os.path.join(os.path.dirname(__file__), 'settings.txt')
        VALUE = open(p).read()
        open(p, 'w').write(VALUE)
        """), {"settings.txt": "one"})
    # (no cold run in between: a cold run rewrites the file too, which rightly rebuilds)
    assert w.amber()[:2] == ("built", "one\n")
    assert w.amber()[:2] == ("restored", "one\n")
    w.write("settings.txt", "two")
    how, out, rc = w.amber()
    assert (out, rc) == w.cold() == ("two\n", 0)
    return how


# == the working directory ========================================================================

@row("a relative path is opened; the program runs from another directory", "built")
def _relative_open(tmp_path):
    w = World(tmp_path, program("VALUE = open('data.txt').read()"), {"data.txt": "here", "other/data.txt": "there"})

    def move(w):
        w.cwd = w.path("other")

    return check(w, move)


@row("os.getcwd() at start-up; the program runs from another directory", "built")
def _getcwd(tmp_path):
    w = World(tmp_path, program("import os\nVALUE = os.path.basename(os.getcwd())"), {"other/x": ""})

    def move(w):
        w.cwd = w.path("other")

    return check(w, move)


@row("os.path.abspath() of a relative path; another directory", "built")
def _abspath(tmp_path):
    w = World(tmp_path, program("import os\nVALUE = os.path.abspath('x')[-12:]"), {"otherdir/x": ""})

    def move(w):
        w.cwd = w.path("otherdir")

    return check(w, move)


# == imports ======================================================================================

OPTIONAL_IMPORT = """
try:
    import fancy
    VALUE = fancy.NAME
except ImportError:
    VALUE = 'fallback'
"""


@row("an optional import found nothing; the module is installed later", "built")
def _optional_import(tmp_path):
    w = World(tmp_path, program(OPTIONAL_IMPORT))
    return check(w, lambda w: w.write("fancy.py", "NAME = 'fancy'\n"))


@row("a package is installed on a later sys.path entry for an optional import", "built")
def _optional_package(tmp_path):
    w = World(tmp_path, program("import os, sys\nsys.path.append(os.path.join(os.path.dirname(__file__), 'lib'))\n"
                                + OPTIONAL_IMPORT), {"lib/README": ""})
    return check(w, lambda w: w.write("lib/fancy/__init__.py", "NAME = 'package'\n"))


@row("a module appears earlier on sys.path and shadows the one imported", "built")
def _shadowing(tmp_path):
    w = World(tmp_path, program("from helper import VALUE"), {"lib/helper.py": "VALUE = 'lib'\n", "first/x": ""})
    w.env["PYTHONPATH"] = f"{w.path('first')}:{w.path('lib')}"
    return check(w, lambda w: w.write("first/helper.py", "VALUE = 'shadow'\n"))


@row("an installed distribution is upgraded (its .dist-info replaced)", "built")
def _upgrade(tmp_path):
    w = World(tmp_path, program("import dep\nVALUE = dep.WHO"), {
        "site/dep.py": "WHO = 'dep 1'\n", "site/dep-1.0.dist-info/top_level.txt": "dep\n",
        "site/dep-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: dep\nVersion: 1.0\n"})
    w.env["PYTHONPATH"] = str(w.path("site"))

    def upgrade(w):
        w.path("site/dep-1.0.dist-info").rename(w.path("site/dep-2.0.dist-info"))
        w.replace_keeping_size_and_mtime("site/dep.py", "WHO = 'dep 2'\n")

    return check(w, upgrade)


# == listings and existence checks ================================================================

@row("os.listdir() of a directory; a file is added", "built")
def _listdir(tmp_path):
    w = World(tmp_path, program("import os\nVALUE = sorted(os.listdir(os.path.join(os.path.dirname(__file__), 'd')))"),
              {"d/a": ""})
    return check(w, lambda w: w.write("d/b", ""))


@row("os.scandir() of a directory; a file is removed", "built")
def _scandir(tmp_path):
    w = World(tmp_path, program(
        "import os\nVALUE = sorted(e.name for e in os.scandir(os.path.join(os.path.dirname(__file__), 'd')))"),
        {"d/a": "", "d/b": ""})
    return check(w, lambda w: w.path("d/b").unlink())


@row("glob.glob() of a relative pattern; a match is added", "built")
def _glob(tmp_path):
    w = World(tmp_path, program("import glob\nVALUE = sorted(glob.glob('plugins/*.ini'))"), {"plugins/a.ini": ""})
    return check(w, lambda w: w.write("plugins/b.ini", ""))


@row("os.walk() of a tree; a file is added in a subdirectory", "built")
def _walk(tmp_path):
    w = World(tmp_path, program(
        "import os\nVALUE = sorted(f for _d, _s, fs in os.walk(os.path.join(os.path.dirname(__file__), 't')) for f in fs)"),
        {"t/a/x": "", "t/b/y": ""})
    return check(w, lambda w: w.write("t/b/z", ""))


@row("os.path.exists() of a flag file; it appears", "built")
def _exists(tmp_path):
    w = World(tmp_path, program("import os\nVALUE = os.path.exists(os.path.join(os.path.dirname(__file__), 'FLAG'))"))
    return check(w, lambda w: w.write("FLAG", ""))


@row("os.path.isfile() of a path; it becomes a directory", "built")
def _isfile(tmp_path):
    w = World(tmp_path, program("import os\nVALUE = os.path.isfile(os.path.join(os.path.dirname(__file__), 'p'))"),
              {"p": ""})

    def to_dir(w):
        w.path("p").unlink()
        w.path("p").mkdir()

    return check(w, to_dir)


@row("pathlib.Path.exists() of a path; it is removed", "built")
def _pathlib(tmp_path):
    w = World(tmp_path, program("import pathlib\nVALUE = (pathlib.Path(__file__).parent / 'conf.d').exists()"),
              {"conf.d/x": ""})

    def remove(w):
        w.path("conf.d/x").unlink()
        w.path("conf.d").rmdir()

    return check(w, remove)


@row("shutil.which() of a tool; it appears on PATH", "built")
def _which(tmp_path):
    w = World(tmp_path, program("import shutil\nVALUE = shutil.which('amber-test-tool') is not None"), {"bin/x": ""})
    w.env["PATH"] = f"{w.path('bin')}:{w.env.get('PATH', '')}"

    def install(w):
        w.write("bin/amber-test-tool", "#!/bin/sh\n")
        os.chmod(w.path("bin/amber-test-tool"), 0o755)

    return check(w, install)


@row("os.path.realpath() of a symbolic link; the link is pointed elsewhere", "built")
def _symlink(tmp_path):
    w = World(tmp_path, program("import os\nVALUE = os.path.basename(os.path.realpath(os.path.join("
                                "os.path.dirname(__file__), 'current')))"), {"v1/x": "", "v2/x": ""})
    os.symlink("v1", w.path("current"))

    def repoint(w):
        os.unlink(w.path("current"))
        os.symlink("v2", w.path("current"))

    return check(w, repoint)


@row("os.scandir() with DirEntry.is_dir(); an entry becomes a directory of the same name", "built")
def _entry_type(tmp_path):
    w = World(tmp_path, program("import os\nVALUE = sorted(e.name for e in os.scandir(os.path.join("
                                "os.path.dirname(__file__), 'plug')) if e.is_dir())"), {"plug/alpha": "", "plug/beta/x": ""})

    def to_dir(w):
        w.path("plug/alpha").unlink()
        w.path("plug/alpha").mkdir()

    return check(w, to_dir)


@row("os.access() of a tool; it loses its execute permission", "built")
def _access(tmp_path):
    w = World(tmp_path, program("import os\nVALUE = os.access(os.path.join(os.path.dirname(__file__), 'tool'), "
                                "os.X_OK)"), {"tool": "#!/bin/sh\n"})
    os.chmod(w.path("tool"), 0o755)
    return check(w, lambda w: os.chmod(w.path("tool"), 0o644))


@row("sys.stdout.isatty() at start-up; the program's output goes to a terminal", "built")
def _isatty(tmp_path):
    import pty

    w = World(tmp_path, program("import sys\nVALUE = sys.stdout.isatty()"))
    piped = w._run

    def on_a_terminal(cmd):
        master, slave = pty.openpty()
        p = subprocess.run(cmd, cwd=w.cwd, env=w.env, stdin=subprocess.DEVNULL, stdout=slave,
                           stderr=subprocess.PIPE, timeout=120)
        os.close(slave)
        out = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        os.close(master)
        return subprocess.CompletedProcess(cmd, p.returncode, out.replace(b"\r\n", b"\n"), p.stderr)

    def to_terminal(w):
        w._run = on_a_terminal

    how = check(w, to_terminal)
    assert w.amber()[:2] == ("restored", "True\n")  # an image of its own for a terminal...
    w._run = piped
    assert w.amber()[:2] == ("restored", "False\n")  # ... and the pipe's is still there
    return how


@row("a file opened relative to a directory descriptor (`dir_fd=`)", "cold")
def _dir_fd(tmp_path):
    w = World(tmp_path, program("""
        import os
        fd = os.open(os.path.join(os.path.dirname(__file__), 'conf'), os.O_RDONLY)
        with open('value.txt', opener=lambda p, f: os.open(p, f, dir_fd=fd)) as fh:
            VALUE = fh.read()
        """), {"conf/value.txt": "one"})
    return check(w, lambda w: w.write("conf/value.txt", "two"), second="cold")


# == the environment ==============================================================================

@row("os.environ[...] read at start-up; the variable changes", "built")
def _environ(tmp_path):
    w = World(tmp_path, program("import os\nVALUE = os.environ.get('APP_MODE', 'none')"))
    w.env["APP_MODE"] = "a"
    return check(w, lambda w: w.env.update(APP_MODE="b"))


@row("os.getenv() read at start-up; the variable is removed", "built")
def _getenv(tmp_path):
    w = World(tmp_path, program("import os\nVALUE = os.getenv('APP_MODE')"))
    w.env["APP_MODE"] = "a"
    return check(w, lambda w: w.env.pop("APP_MODE"))


@row("os.environb[...] read at start-up; the variable changes", "built")
def _environb(tmp_path):
    w = World(tmp_path, program("import os\nVALUE = os.environb.get(b'APP_MODE')"))
    w.env["APP_MODE"] = "a"
    return check(w, lambda w: w.env.update(APP_MODE="b"))


@row("the whole environment is iterated; a variable is added", "built")
def _iterated(tmp_path):
    w = World(tmp_path, program("import os\nVALUE = sorted(k for k in os.environ if k.startswith('APP_'))"))
    return check(w, lambda w: w.env.update(APP_NEW="1"))


@row("TZ, read by the C library (time.localtime)", "built")
def _tz(tmp_path):
    w = World(tmp_path, program("import time\nVALUE = time.strftime('%H', time.localtime(0))"))
    w.env["TZ"] = "UTC"
    return check(w, lambda w: w.env.update(TZ="Asia/Tokyo"))


@row("LC_ALL, read by the C library (locale.setlocale)", "built")
def _locale(tmp_path):
    w = World(tmp_path, program("import locale\nVALUE = locale.setlocale(locale.LC_ALL, '')"))
    w.env["LC_ALL"] = "C.UTF-8"
    return check(w, lambda w: w.env.update(LC_ALL="C"))


@row("a variable start-up never read changes", "restored")
def _unrelated(tmp_path):
    w = World(tmp_path, program("import os\nVALUE = os.environ.get('APP_MODE')"))
    return check(w, lambda w: w.env.update(SOMETHING_ELSE="x"))


# == files opened by C code, commands, standard input =============================================

@row("sqlite3.connect() reads a database; another process changes it", "built")
def _sqlite(tmp_path):
    setup = "import sqlite3; c = sqlite3.connect(sys.argv[1]); c.execute('create table t (v)'); " \
            "c.execute(\"insert into t values ('one')\"); c.commit()"
    w = World(tmp_path, program("""
        import os, sqlite3
        c = sqlite3.connect(os.path.join(os.path.dirname(__file__), 'app.db'))
        VALUE = c.execute('select v from t').fetchall()
        c.close()
        del c  # (a closed connection cannot be captured: that is the generality issue's)
        """))
    subprocess.run([sys.executable, "-c", "import sys; " + setup, str(w.path("app.db"))], check=True)

    def update(w):
        c = __import__("sqlite3").connect(w.path("app.db"))
        c.execute("update t set v = 'two'")
        c.commit()
        c.close()

    return check(w, update)


@row("start-up runs a command whose output depends on a file", "cold")
def _command(tmp_path):
    w = World(tmp_path, program("""
        import os, subprocess
        VALUE = subprocess.run(['cat', os.path.join(os.path.dirname(__file__), 'data.txt')],
                               capture_output=True, text=True).stdout
        """), {"data.txt": "one"})
    return check(w, lambda w: w.write("data.txt", "two"), second="cold")


@row("start-up reads standard input (a pipe)", "cold")
def _stdin(tmp_path):
    w = World(tmp_path, program("import sys\nVALUE = sys.stdin.readline().strip()"))
    w.stdin = b"one\n"
    return check(w, lambda w: setattr(w, "stdin", b"two\n"), second="cold")


@row("start-up reads standard input (a file)", "cold")
def _stdin_file(tmp_path):
    w = World(tmp_path, program("import sys\nVALUE = sys.stdin.readline().strip()"), {"in.txt": "one\n"})

    def run_with_file(cmd, w=w):
        with open(w.path("in.txt"), "rb") as f:
            return subprocess.run(cmd, cwd=w.cwd, env=w.env, stdin=f, capture_output=True, timeout=120)

    w._run = run_with_file
    return check(w, lambda w: w.write("in.txt", "two\n"), second="cold")


# == the command line and the interpreter =========================================================

@row("the command-line arguments change", "built")
def _args(tmp_path):
    w = World(tmp_path, program("import sys\nVALUE = sys.argv[1:]"))
    base = w._run

    w._run = lambda cmd: base([*cmd, "a"])

    def change(w):
        w._run = lambda cmd: base([*cmd, "b"])

    return check(w, change)


@row("PYTHONPATH changes", "built")
def _pythonpath(tmp_path):
    w = World(tmp_path, program("from helper import VALUE"), {"a/helper.py": "VALUE = 'a'\n", "b/helper.py": "VALUE = 'b'\n"})
    w.env["PYTHONPATH"] = str(w.path("a"))
    return check(w, lambda w: w.env.update(PYTHONPATH=str(w.path("b"))))


@row("the program's own output file changes", "restored")
def _own_output(tmp_path):
    w = World(tmp_path, program("""
        import os
        with open(os.path.join(os.path.dirname(__file__), 'out.log'), 'a') as f:
            f.write('started\\n')
        VALUE = 'ok'
        """))
    return check(w, lambda w: w.write("out.log", "rotated\n"))


# == the table ====================================================================================

@pytest.mark.parametrize("name", list(ROWS))
def test_never_stale(name, tmp_path):
    expect, fn = ROWS[name]
    assert fn(tmp_path) == expect


def test_the_readme_table_lists_every_row():
    text = open(README, encoding="utf-8").read()
    table = text.split("<!-- staleness table -->", 2)[1]
    rows = dict(re.findall(r"^\| (.+?) \| (built|cold|restored|not an input)[^|]*\|", table, re.M))
    assert {k: v for k, v in rows.items() if v != "not an input"} == {name: e for name, (e, _fn) in ROWS.items()}
    assert len(ROWS) >= 30
