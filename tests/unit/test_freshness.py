"""Fast layer: ``amber run``'s freshness check and cache keys (amber.runcache), in-process.

Real temporary files and environment changes (through monkeypatch) against ``stale_reason``,
``env_digest``/``names_digest``, ``program_key``, ``args_key`` and the cache-directory helpers.
"""

import importlib
import marshal
import os
import stat

import pytest

# The runcache package is being reshaped: find each name wherever it lives now.
_CANDIDATES = ("amber.runcache.freshness", "amber.runcache.keys", "amber.runcache.layout", "amber.runcache")


def _find(name):
    for modname in _CANDIDATES:
        try:
            mod = importlib.import_module(modname)
        except ImportError:
            continue
        if hasattr(mod, name):
            return getattr(mod, name)
    raise ImportError(f"{name} is in none of {', '.join(_CANDIDATES)}")


stale_reason = _find("stale_reason")
env_digest = _find("env_digest")
names_digest = _find("names_digest")
program_key = _find("program_key")
args_key = _find("args_key")
secret_key = _find("secret_key")
cache_root = _find("cache_root")
read_program = _find("read_program")

KEY = bytes(range(32))
VAR = "AMBER_UNIT_TEST_VARIABLE"


from amber.image.format import WATCH_CONTENT, WATCH_KIND, WATCH_LISTING, WATCH_SEARCHED  # noqa: E402
from amber.runcache import freshness as _freshness  # noqa: E402
from amber.runcache import keys as _keys  # noqa: E402

PROGRAM = "p" * 32


def file_input(path, how=WATCH_CONTENT):
    names = _freshness.listing_digest(str(path), how) if how in (WATCH_LISTING, WATCH_SEARCHED) else None
    return (str(path), how, _freshness.stamp(str(path), how), names)


def absent(path, how=WATCH_CONTENT):
    return (str(path), how, [], None)


def inputs(files=(), env=(), env_names=None, cwd=None):
    return {"program": PROGRAM, "watched": list(files), "cwd": cwd, "output": [], "env": list(env),
            "env_names": env_names}


def _stale(recorded, key, program=PROGRAM):
    return _freshness.stale_reason(recorded, key, program)


stale_reason = _stale  # noqa: F811 (every check below is of this program's image)


@pytest.fixture
def src(tmp_path):
    p = tmp_path / "module.py"
    p.write_text("x = 1\n")
    os.utime(p, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    return p


# == files =========================================================================================

def test_unchanged_inputs_are_fresh(src, tmp_path, monkeypatch):
    monkeypatch.setenv(VAR, "value")
    absent = tmp_path / "never.cfg"
    recorded = inputs([file_input(src), globals()["absent"](absent)], [(VAR, env_digest(KEY, VAR))],
                      names_digest(KEY))
    assert stale_reason(recorded, KEY) is None


def test_no_inputs_is_fresh_even_without_a_key():
    assert stale_reason(inputs(), None) is None


def test_size_change(src):
    recorded = inputs([file_input(src)])
    mtime = os.stat(src).st_mtime_ns
    src.write_text("x = 12\n")
    os.utime(src, ns=(mtime, mtime))  # same mtime: the size alone tells
    assert stale_reason(recorded, KEY) == f"{src} changed"


def test_mtime_change_by_one_nanosecond(src):
    recorded = inputs([file_input(src)])
    mtime = os.stat(src).st_mtime_ns
    os.utime(src, ns=(mtime, mtime + 1))
    assert stale_reason(recorded, KEY) == f"{src} changed"


def test_same_size_rewrite_with_a_new_mtime(src):
    recorded = inputs([file_input(src)])
    src.write_text("x = 2\n")  # same length
    os.utime(src, ns=(1_800_000_000_000_000_000, 1_800_000_000_000_000_000))
    assert stale_reason(recorded, KEY) == f"{src} changed"


def test_deleted(src):
    recorded = inputs([file_input(src)])
    src.unlink()
    assert stale_reason(recorded, KEY) == f"{src} is gone"


def test_appeared(tmp_path):
    cfg = tmp_path / "settings.toml"
    recorded = inputs([absent(cfg)])
    assert stale_reason(recorded, KEY) is None
    cfg.write_text("")
    assert stale_reason(recorded, KEY) == f"{cfg} appeared"


def test_a_directory_input(tmp_path):
    dist = tmp_path / "pkg-1.0.dist-info"
    dist.mkdir()
    recorded = inputs([file_input(dist)])
    assert stale_reason(recorded, KEY) is None
    dist.rmdir()
    (tmp_path / "pkg-1.1.dist-info").mkdir()  # an upgrade replaces the directory
    assert stale_reason(recorded, KEY) == f"{dist} is gone"


def test_the_first_stale_file_is_named(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("a")
    b.write_text("b")
    recorded = inputs([file_input(a), file_input(b)])
    b.unlink()
    a.write_text("aa")
    assert stale_reason(recorded, KEY) == f"{a} changed"


def test_files_are_checked_before_variables(src, monkeypatch):
    monkeypatch.setenv(VAR, "one")
    recorded = inputs([file_input(src)], [(VAR, env_digest(KEY, VAR))])
    monkeypatch.setenv(VAR, "two")
    src.unlink()
    assert stale_reason(recorded, KEY) == f"{src} is gone"


# == environment ===================================================================================

def test_variable_changed(monkeypatch):
    monkeypatch.setenv(VAR, "one")
    recorded = inputs(env=[(VAR, env_digest(KEY, VAR))])
    assert stale_reason(recorded, KEY) is None
    monkeypatch.setenv(VAR, "two")
    assert stale_reason(recorded, KEY) == f"environment variable {VAR} changed"
    monkeypatch.setenv(VAR, "one")
    assert stale_reason(recorded, KEY) is None


def test_variable_removed(monkeypatch):
    monkeypatch.setenv(VAR, "one")
    recorded = inputs(env=[(VAR, env_digest(KEY, VAR))])
    monkeypatch.delenv(VAR)
    assert stale_reason(recorded, KEY) == f"environment variable {VAR} changed"


def test_variable_added_where_it_was_absent(monkeypatch):
    monkeypatch.delenv(VAR, raising=False)
    recorded = inputs(env=[(VAR, env_digest(KEY, VAR))])
    assert stale_reason(recorded, KEY) is None
    monkeypatch.setenv(VAR, "")  # even empty: absent and empty differ
    assert stale_reason(recorded, KEY) == f"environment variable {VAR} changed"


def test_other_variables_do_not_matter_without_iteration(monkeypatch):
    monkeypatch.setenv(VAR, "one")
    recorded = inputs(env=[(VAR, env_digest(KEY, VAR))])
    monkeypatch.setenv(VAR + "_OTHER", "x")
    assert stale_reason(recorded, KEY) is None


def test_env_digest_is_keyed_and_hides_the_value(monkeypatch):
    monkeypatch.setenv(VAR, "hunter2-secret-value")
    d = env_digest(KEY, VAR)
    assert isinstance(d, bytes) and len(d) == 16
    assert env_digest(bytes(32), VAR) != d
    assert b"hunter2" not in d
    monkeypatch.delenv(VAR)
    absent = env_digest(KEY, VAR)
    monkeypatch.setenv(VAR, "")
    assert env_digest(KEY, VAR) != absent


def test_env_digest_binds_the_name(monkeypatch):
    # NAME=value must not collide with NAM=Evalue and the like
    monkeypatch.setenv("AMBER_UNIT_AB", "C")
    monkeypatch.setenv("AMBER_UNIT_A", "BC")
    assert env_digest(KEY, "AMBER_UNIT_AB") != env_digest(KEY, "AMBER_UNIT_A")


def test_names_digest_when_the_program_iterated_the_environment(monkeypatch):
    monkeypatch.setenv(VAR, "one")
    recorded = inputs(env_names=names_digest(KEY))
    assert stale_reason(recorded, KEY) is None
    monkeypatch.setenv(VAR, "two")  # a value change: names are the same
    assert stale_reason(recorded, KEY) is None
    monkeypatch.setenv(VAR + "_NEW", "1")
    assert stale_reason(recorded, KEY).startswith("the set of environment variables changed")
    monkeypatch.delenv(VAR + "_NEW")
    assert stale_reason(recorded, KEY) is None
    monkeypatch.delenv(VAR)
    assert stale_reason(recorded, KEY).startswith("the set of environment variables changed")


def test_names_digest_is_keyed():
    assert names_digest(KEY) != names_digest(bytes(32))
    assert names_digest(KEY) == names_digest(KEY)


def test_variables_without_the_key_are_stale(monkeypatch):
    monkeypatch.setenv(VAR, "one")
    assert stale_reason(inputs(env=[(VAR, env_digest(KEY, VAR))]), None) == "the cache key is gone"
    assert stale_reason(inputs(env_names=names_digest(KEY)), None) == "the cache key is gone"


def test_another_key_makes_every_variable_stale(monkeypatch):
    monkeypatch.setenv(VAR, "one")
    recorded = inputs(env=[(VAR, env_digest(KEY, VAR))])
    assert stale_reason(recorded, bytes(32)) == f"environment variable {VAR} changed"


# == keys ==========================================================================================

def test_args_key_covers_all_arguments_by_default():
    k = args_key(["--port", "80"], None)
    assert isinstance(k, str) and len(k) == 32 and int(k, 16) >= 0
    assert args_key(["--port", "80"], None) == k
    assert args_key(["--port", "81"], None) != k
    assert args_key(["--port"], None) != k
    assert args_key(["80", "--port"], None) != k
    assert args_key([], None) != args_key([""], None)


def test_args_key_with_key_args():
    assert args_key(["a", "b", "c"], 0) == args_key([], 0) == args_key(["zzz"], 0)
    assert args_key(["a", "b"], 1) == args_key(["a", "other"], 1) == args_key(["a"], 1)
    assert args_key(["a", "b"], 1) != args_key(["x", "b"], 1)
    assert args_key(["a", "b"], 2) != args_key(["a", "c"], 2)
    # startup_args(N) with fewer arguments than N: the key is of what there is
    assert args_key(["a"], 5) == args_key(["a"], None)


def test_program_key_covers_target_kind_and_flags(tmp_path):
    base = program_key("/srv/app.py", False, str(tmp_path))
    assert isinstance(base, str) and len(base) == 32
    assert program_key("/srv/app.py", False, str(tmp_path)) == base
    assert program_key("/srv/other.py", False, str(tmp_path)) != base
    assert program_key("/srv/app.py", True, str(tmp_path)) != base
    assert program_key("/srv/app.py", False, str(tmp_path), ("--strict",)) != base
    assert program_key("/srv/app.py", False, str(tmp_path), ("--reimport", "x")) != \
        program_key("/srv/app.py", False, str(tmp_path), ("--reimport", "y"))


def test_program_key_cwd_matters_only_for_modules(tmp_path):
    other = tmp_path / "elsewhere"
    assert program_key("/srv/app.py", False, str(tmp_path)) == program_key("/srv/app.py", False, str(other))
    assert program_key("app", True, str(tmp_path)) != program_key("app", True, str(other))


def test_program_key_follows_startup_variables_only(monkeypatch, tmp_path):
    monkeypatch.delenv("PYTHONPATH", raising=False)
    before = program_key("/srv/app.py", False, str(tmp_path))
    monkeypatch.setenv(VAR, "irrelevant")
    assert program_key("/srv/app.py", False, str(tmp_path)) == before
    monkeypatch.setenv("PYTHONPATH", "/opt/lib")
    assert program_key("/srv/app.py", False, str(tmp_path)) != before


def test_program_key_follows_amber_version(monkeypatch, tmp_path):
    import amber

    before = program_key("/srv/app.py", False, str(tmp_path))
    monkeypatch.setattr(amber, "__version__", amber.__version__ + ".post1")
    assert program_key("/srv/app.py", False, str(tmp_path)) != before


# == the cache directory ===========================================================================

def test_cache_root(monkeypatch, tmp_path):
    monkeypatch.setenv("AMBER_CACHE", str(tmp_path / "explicit"))
    assert cache_root() == str(tmp_path / "explicit")
    monkeypatch.delenv("AMBER_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == f"{tmp_path}/xdg/amber"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == f"{tmp_path}/home/.cache/amber"
    monkeypatch.delenv("HOME")
    assert cache_root() is None  # never a shared fallback such as /tmp
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")  # ignored, as the XDG rule says
    assert cache_root() is None


def test_secret_key_is_made_only_when_asked(tmp_path):
    root = str(tmp_path)
    assert secret_key(root) is None
    assert not (tmp_path / "key").exists()
    key = secret_key(root, create=True)
    assert isinstance(key, bytes) and len(key) == 32
    assert stat.S_IMODE(os.stat(tmp_path / "key").st_mode) == 0o600
    assert secret_key(root) == key
    assert secret_key(root, create=True) == key  # kept, not made again


def test_a_damaged_secret_key_is_not_used(tmp_path):
    (tmp_path / "key").write_bytes(b"short")
    assert secret_key(str(tmp_path)) is None
    fresh = secret_key(str(tmp_path), create=True)
    assert len(fresh) == 32 and (tmp_path / "key").read_bytes() == fresh


def test_read_program_trusts_only_sealed_records(tmp_path):
    assert read_program(str(tmp_path), KEY) == {}
    _keys.write_program(str(tmp_path), KEY, "/srv/app.py", 1)
    assert read_program(str(tmp_path), KEY) == {"target": "/srv/app.py", "key_args": 1}
    assert read_program(str(tmp_path), bytes(32)) == {}  # another cache's key
    assert read_program(str(tmp_path), None) == {}
    data = bytearray((tmp_path / "program").read_bytes())
    data[-3] ^= 1  # hand-edited or damaged
    (tmp_path / "program").write_bytes(bytes(data))
    assert read_program(str(tmp_path), KEY) == {}
    (tmp_path / "program").write_bytes(marshal.dumps({"target": "/srv/app.py", "key_args": 1}))  # unsealed
    assert read_program(str(tmp_path), KEY) == {}
    (tmp_path / "program").write_bytes(_keys.seal(KEY, b"program", {"target": 3, "key_args": -1}))
    assert read_program(str(tmp_path), KEY) == {}  # sealed, but not a program record's shape


# == what else is watched ===========================================================================

def test_an_edit_that_keeps_size_and_mtime_is_seen(src):
    recorded = inputs([file_input(src)])
    st = os.stat(src)
    src.write_text("x = 2\n")  # same size
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))  # touch -d back: only ctime tells
    assert stale_reason(recorded, KEY) == f"{src} changed"


def test_a_file_replaced_by_rename_is_seen(src, tmp_path):
    recorded = inputs([file_input(src)])
    st = os.stat(src)
    other = tmp_path / "new.py"
    other.write_text(src.read_text())
    os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(other, src)  # another inode
    assert stale_reason(recorded, KEY) == f"{src} changed"


def test_an_existence_check_follows_existence_and_type(tmp_path):
    p = tmp_path / "maybe"
    recorded = inputs([file_input(p, WATCH_KIND)])
    assert stale_reason(recorded, KEY) is None
    p.write_text("now a file")
    assert stale_reason(recorded, KEY) == f"{p} appeared"
    recorded = inputs([file_input(p, WATCH_KIND)])
    p.write_text("another content: not what an existence check looked at")
    assert stale_reason(recorded, KEY) is None
    p.unlink()
    p.mkdir()
    assert stale_reason(recorded, KEY) == f"{p} changed type, permissions or owner"
    recorded = inputs([file_input(p, WATCH_KIND)])
    os.chmod(p, 0o700)  # os.access answers otherwise
    assert stale_reason(recorded, KEY) == f"{p} changed type, permissions or owner"


def test_a_listed_directory_follows_its_names(tmp_path):
    (tmp_path / "a.txt").write_text("")
    recorded = inputs([file_input(tmp_path, WATCH_LISTING)])
    assert stale_reason(recorded, KEY) is None
    (tmp_path / "a.txt").write_text("content is not a listing")
    assert stale_reason(recorded, KEY) is None
    (tmp_path / "b.txt").write_text("")
    assert stale_reason(recorded, KEY) == f"the entries of {tmp_path} changed"
    (tmp_path / "b.txt").unlink()
    assert stale_reason(recorded, KEY) is None  # touched, same names


def test_a_searched_directory_follows_only_names_a_module_could_have(tmp_path):
    (tmp_path / "mod.py").write_text("")
    recorded = inputs([file_input(tmp_path, WATCH_SEARCHED)])
    for name in ("out.log", "app.pid", "__pycache__", ".hidden", "not-a-module.py"):
        (tmp_path / name).write_text("") if name != "__pycache__" else (tmp_path / name).mkdir()
        assert stale_reason(recorded, KEY) is None, name
    for name in ("shadow.py", "pkg", "ext.cpython-311-x86_64-linux-gnu.so", "dep-1.0.dist-info", "x.pth"):
        (tmp_path / name).mkdir() if "." not in name or name.endswith("info") else (tmp_path / name).write_text("")
        assert stale_reason(recorded, KEY) == f"the entries of {tmp_path} changed", name
        recorded = inputs([file_input(tmp_path, WATCH_SEARCHED)])


def test_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recorded = inputs(cwd=os.getcwd())
    assert stale_reason(recorded, KEY) is None
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    assert stale_reason(recorded, KEY) == "the working directory changed (start-up depended on it)"
    assert stale_reason(inputs(), KEY) is None  # not an input unless start-up depended on it


def test_an_image_of_another_program_is_never_fresh():
    assert stale_reason(inputs(), KEY, program="q" * 32) == "the image was made for another program"


# == keys and records ===============================================================================

def test_canonical_encoding_is_the_same_in_every_interpreter():
    import subprocess
    import sys

    value = ("3.11", {"b": 1, "a": (None, True, False, b"x", ["y", -5])}, "é" * 3)
    here = _keys.canonical(value)
    for python in {sys.executable, "/root/.pyenv/versions/3.12.1/bin/python", "/root/.pyenv/versions/3.13.0/bin/python"}:
        if not os.path.exists(python):
            continue
        code = ("import sys; sys.path.insert(0, sys.argv[1]); from amber.runcache.keys import canonical; "
                f"sys.stdout.write(canonical({value!r}).hex())")
        src_dir = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "src")
        out = subprocess.run([python, "-I", "-S", "-c", code, src_dir], capture_output=True, text=True, check=True)
        assert bytes.fromhex(out.stdout) == here, python
    assert _keys.canonical(["a", "b"]) != _keys.canonical(["ab"])
    assert _keys.canonical(1) != _keys.canonical(True) != _keys.canonical("1")
    with pytest.raises(TypeError):
        _keys.canonical(1.5)


def test_the_secret_key_is_created_once_under_a_race(tmp_path):
    import subprocess
    import sys

    src_dir = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "src")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from amber.runcache.keys import secret_key; "
            "sys.stdout.write(secret_key(sys.argv[2], create=True).hex())")
    procs = [subprocess.Popen([sys.executable, "-c", code, src_dir, str(tmp_path)], stdout=subprocess.PIPE, text=True)
             for _ in range(6)]
    keys = {p.communicate()[0] for p in procs}
    assert len(keys) == 1 and (tmp_path / "key").read_bytes().hex() in keys
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_unsafe_directories(tmp_path):
    from amber.runcache.layout import unsafe_reason

    mine = tmp_path / "mine"
    mine.mkdir(mode=0o700)
    assert unsafe_reason(str(mine)) is None
    assert unsafe_reason(str(mine / "not" / "yet")) is None  # would be made 0700
    os.chmod(mine, 0o777)
    assert "writable by other users" in unsafe_reason(str(mine))
    assert "not sticky" in unsafe_reason(str(mine / "below"))
    os.chmod(mine, 0o1777)  # like /tmp: others cannot rename what is inside
    assert unsafe_reason(str(mine / "below")) is None
    os.chmod(mine, 0o700)
    (mine / "file").write_text("")
    assert "is not a directory" in unsafe_reason(str(mine / "file"))
    os.chown(mine, 12345, 12345)
    assert "belongs to another user" in unsafe_reason(str(mine))
