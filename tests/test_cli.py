"""The ``amber`` command line: per-command help, one-line errors, the program's arguments passed on
unchanged, Ctrl-C, and the typed options that cross into the child interpreter."""

import json
import pathlib
import sys

import pytest
from conftest import AMBER, run

from amber.commands import cli, launch
from amber.errors import AmberError, UsageError
from amber.options import RestoreOptions, RunOptions, SnapshotOptions

# Each command's help must show its own options (not the global usage) and not another's.
OWN_OPTIONS = {
    "run": ["--rebuild", "--verbose", "--wait", "--reimport PKG", "--allow-secret NAME", "--strict", "-m MODULE"],
    "snapshot": ["--output IMAGE", "--lazy-code", "--reimport PKG", "--strict", "-m MODULE"],
    "restore": ["--insecure", "--verify-buffers", "IMAGE"],
    "debug": ["--insecure", "IMAGE"],
    "inspect": ["--json", "--insecure", "--base-set", "IMAGE"],
    "cache": ["list", "clear"],
    "pool": ["start", "list", "stop", "IMAGE"],
    "keygen": ["--force"],
    "trust": ["PUBLIC_KEY"],
}
NOT_THEIRS = {"run": "--lazy-code", "snapshot": "--rebuild", "restore": "--reimport", "debug": "--no-pool", "inspect": "--rebuild",
              "cache": "--json", "pool": "--rebuild", "keygen": "--insecure", "trust": "--force"}


def one_line_error(p, code=2):
    assert p.returncode == code, (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("amber: error: "), p.stderr
    return lines[0]


def test_every_command_has_its_own_help(tmp_path):
    assert {c.name for c in cli.COMMANDS} == set(OWN_OPTIONS)
    for name, options in OWN_OPTIONS.items():
        p = run([*AMBER, name, "--help"], cwd=tmp_path)
        assert p.returncode == 0 and p.stderr == "", (name, p.stderr)
        assert p.stdout.startswith(f"usage: amber {name} "), (name, p.stdout[:200])
        for option in options:
            assert option in p.stdout, (name, option)
        assert NOT_THEIRS[name] not in p.stdout, (name, NOT_THEIRS[name])
    top = run([*AMBER, "--help"], cwd=tmp_path)
    assert top.returncode == 0
    assert "--lazy-code" in top.stdout and all(name in top.stdout for name in OWN_OPTIONS)
    assert run([*AMBER, "help", "restore"], cwd=tmp_path).stdout.startswith("usage: amber restore ")
    version = run([*AMBER, "--version"], cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("amber ")


def test_usage_lines_come_from_the_declarations_and_the_parsers(monkeypatch, tmp_path):
    top = run([*AMBER, "--help"], cwd=tmp_path).stdout
    head = top.split("\n\n")[0].removeprefix("usage: ").splitlines()
    usage = [line.strip() for line in head]
    for name in ("run", "snapshot", "restore"):  # a command's --help: every declared option, in order
        declared = getattr(launch, name.upper())
        own = cli.make_parser(name)[1][name].format_usage()
        lines = launch.usage_lines(f"amber {name}", declared)
        assert own == "usage: " + "\n       ".join(lines) + "\n", (name, own)
        for option in declared:
            found = [line for line in lines if option.in_usage() in line or f" {option.spelling()} [ARGS" in line]
            assert len(found) == (1 if option.names_program else len(lines)), (name, option.names)
    assert "amber run [--rebuild] [-v] [--wait] [--no-pool] [OPTIONS] -m MODULE [ARGS...]" in usage
    assert "amber restore [--insecure] [--verify-buffers] [--no-pool] IMAGE [ARGS...]" in usage
    assert "amber pool stop (IMAGE | SCRIPT | --all)" in usage
    for name in ("inspect", "cache", "pool", "keygen", "trust"):  # theirs, as their own --help shows it
        own = run([*AMBER, name, "--help"], cwd=tmp_path).stdout.split("\n\n")[0].removeprefix("usage: ")
        assert all(line.strip().replace(" [-h]", "") in usage for line in own.splitlines()), (name, own)
    assert any("(--sections | --dis NAME | --extract NAME)" in line for line in usage)
    assert "COMMAND" not in top.split("commands:")[1].split("\n\n")[0]  # no metavar row above the list
    assert "--reimport PKG, --allow-secret NAME, --strict, --no-verify." in top
    readme = (pathlib.Path(__file__).parent.parent / "README.md").read_text().split("## Use")[1].split("##")[0]
    assert all(line in readme for line in usage if not line.startswith("amber COMMAND")), readme
    # A new option shows up in every usage at once: nothing is written by hand.
    monkeypatch.setattr(launch, "RUN", (*launch.RUN[:2], launch.Option("--new", dest="new", help="n"),
                                        *launch.RUN[2:]))
    monkeypatch.setattr(launch, "BUILD", (*launch.BUILD, launch.Option("--also", dest="also", help="a")))
    assert "[-v] [--new] [--wait] [--no-pool] [--reimport PKG]..." in cli.make_parser("run")[1]["run"].format_usage()
    parser, _ = cli.make_parser()
    assert "amber run [--rebuild] [-v] [--new] [--wait] [--no-pool] [OPTIONS] SCRIPT" in parser.format_usage()
    assert "--strict, --no-verify, --also." in parser.format_help()


def test_mistakes_are_one_line_with_exit_code_2(tmp_path):
    script = tmp_path / "p.py"
    script.write_text("print('ran')\n")
    for args, text in [
        (["restore", "--bogus", "x.amber"], "unknown option '--bogus' for restore; see 'amber restore --help'"),
        (["run", "--bogus", str(script)], "unknown option '--bogus' for run"),
        (["run", "--reb", str(script)], "unknown option '--reb' for run"),  # no abbreviations
        (["snapshot", "--lazy-code=yes", str(script)], "--lazy-code"),
        (["inspect", "--bogus", "x.amber"], "unknown option '--bogus' for inspect"),
        (["inspect", "a.amber", "b.amber"], "unknown argument 'b.amber' for inspect"),
        (["cache", "prune"], "invalid choice: 'prune'"),
        (["keygen", "--bogus"], "unknown option '--bogus' for keygen"),
        (["trust"], "PUBLIC_KEY"),
        (["frobnicate"], "unknown command 'frobnicate'"),
        (["--bogus"], "unknown option '--bogus'"),
        (["snapshot", "-o"], "-o needs a file name"),
        (["run", "--reimport"], "--reimport needs a package name"),
        (["run", "-m"], "-m needs a module name"),
        (["run"], "run needs a script or -m MODULE"),
        (["restore"], "restore needs an image"),
    ]:
        line = one_line_error(run([*AMBER, *args], cwd=tmp_path))
        assert text in line, (args, line)
    assert not (tmp_path / "p.amber").exists()


PROGRAM = """\
import json, sys
AT_START = sys.argv[1:]
if __name__ == "__main__":
    print(json.dumps([AT_START, sys.argv[1:]]))
"""
# Words Amber would take for its own, were they before SCRIPT/IMAGE.
TRICKY = ["--help", "-v", "--insecure", "-o", "x", "--", "-m", "json", "--lazy-code", "-h", "--reimport=y", ""]


def test_arguments_after_script_or_image_belong_to_the_program(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(PROGRAM)
    image = tmp_path / "prog.amber"
    run([*AMBER, "snapshot", "-o", str(image), str(script), *TRICKY], cwd=tmp_path, check=True)
    restored = run([*AMBER, "restore", str(image), *reversed(TRICKY)], cwd=tmp_path, check=True)
    assert json.loads(restored.stdout) == [TRICKY, list(reversed(TRICKY))]
    # amber run: the first run builds, the second restores; -m MODULE likewise.
    env = {"AMBER_CACHE": str(tmp_path / "cache")}
    for target in (["prog.py"], ["-m", "prog"]):
        for how in ("amber: built", "amber: restoring"):
            r = run([*AMBER, "run", "--wait", "-v", *target, *TRICKY], cwd=tmp_path, env=env, check=True)
            assert json.loads(r.stdout) == [TRICKY, TRICKY] and how in r.stderr, (target, r.stderr)


def test_ctrl_c_is_one_line_while_amber_works_and_the_programs_after(program):
    p = program("""\
        import amber, sys
        @amber.before_snapshot
        def interrupted():
            if "snapshot" in sys.argv:
                raise KeyboardInterrupt
        @amber.after_restore
        def interrupted_again():
            if "restore" in sys.argv:
                raise KeyboardInterrupt
        if __name__ == "__main__":
            if "program" in sys.argv:
                raise KeyboardInterrupt
            print("ran")
    """)
    r = p.snapshot("snapshot", check=False)
    assert (r.returncode, r.stderr) == (130, "amber: interrupted\n") and not p.image.exists()
    p.snapshot()
    r = p.restore("restore", check=False)
    assert (r.returncode, r.stderr) == (130, "amber: interrupted\n")
    assert p.restore().stdout == "ran\n"
    r = p.restore("program", check=False)  # the program's own Ctrl-C: as python shows it
    assert r.returncode != 0 and "KeyboardInterrupt" in r.stderr and "Traceback" in r.stderr
    assert "amber: interrupted" not in r.stderr


OPTIONS = [
    RunOptions("/abs/app.py"),
    RunOptions("pkg.app", True, rebuild=True, verbose=True, reimport=["numpy", "pandas"],
               allowed_secrets=["API_KEY"], strict=True, args=["--help", "", "é", "-v", "--"]),
    SnapshotOptions("/tmp/a.amber", "app.py"),
    SnapshotOptions("/tmp/a b.amber", "pkg.main", True, reimport=["x"], allowed_secrets=["T"], strict=True,
                    lazy_code=True, root="/cache", entry="/cache/0123", build=False, verbose=True,
                    args=["1", "2"]),
    RestoreOptions("x.amber"),
    RestoreOptions("-", insecure=True, verify_buffers=True, args=["--insecure", "x"]),
]


@pytest.mark.parametrize("options", OPTIONS, ids=repr)
def test_options_round_trip(options):
    encoded = options.encode()
    assert all(isinstance(word, str) and "\0" not in word for word in encoded)
    assert encoded[0].startswith(type(options).__name__ + "=") and encoded[1:] == options.args
    decoded = type(options).decode(encoded)
    assert decoded == options and repr(decoded) == repr(options)
    assert all(getattr(decoded, name) == getattr(options, name) for name in type(options).__slots__)
    for other in {RunOptions, SnapshotOptions, RestoreOptions} - {type(options)}:
        with pytest.raises(UsageError):
            other.decode(encoded)
    with pytest.raises(UsageError):
        type(options).decode([encoded[0][:-2]])
    with pytest.raises(UsageError):
        type(options).decode(["IMAGE.amber"])


def test_options_changed_are_not_equal():
    a = SnapshotOptions("/a.amber", "app.py", args=["1"])
    assert a != SnapshotOptions("/a.amber", "app.py", args=["2"])
    assert a != SnapshotOptions("/a.amber", "app.py", lazy_code=True, args=["1"])
    assert RunOptions("a", reimport=["x"]).build_key() != RunOptions("a").build_key()
    assert RunOptions("a", verbose=True, rebuild=True).build_key() == RunOptions("a").build_key()


QUICK = {  # command -> Amber's words (up to SCRIPT/IMAGE/-m MODULE), spelt plainly
    "run": [["app.py"], ["-v", "app.py"], ["--rebuild", "--verbose", "--strict", "app.py"],
            ["--reimport", "a", "--reimport", "b", "--allow-secret", "K", "-m", "mod"]],
    "snapshot": [["app.py"], ["-o", "x.amber", "--lazy-code", "app.py"], ["--output", "a", "-o", "b", "-m", "m"]],
    "restore": [["x.amber"], ["--insecure", "--verify-buffers", "x.amber"], ["-"]],
}
NOT_QUICK = {"run": [["-h"], ["--reimport=a", "x.py"], ["-vx.py"], ["--", "x.py"], ["-mmod"], ["--bogus", "a"],
                     ["-m", "-v"], []],
             "snapshot": [["-o"], ["-oimage", "a.py"], ["--help"]],
             "restore": [["--insecure"], ["--bogus", "x"]]}


def test_the_quick_reading_agrees_with_argparse():
    for name, cases in QUICK.items():
        declared = getattr(launch, name.upper())
        parser, _ = cli.make_parser(name)
        for words in cases:
            head, rest = launch.split_program([*words, "--help", "-v"], declared)
            assert (head, rest) == (words, ["--help", "-v"]), (name, words)
            quick = launch.quick_parse(head, declared, rest)
            assert quick is not None, (name, words)
            full, extras = parser.parse_known_args([name, *head])
            assert extras == []
            expected = {k: v for k, v in vars(full).items() if k != "command"} | {"args": rest}
            assert vars(quick) == expected, (name, words)
            command, parsed = cli.parse([name, *words, *rest])  # the quick path, as `amber` takes it
            assert command.name == name and vars(parsed) == expected
    for name, cases in NOT_QUICK.items():
        declared = getattr(launch, name.upper())
        for words in cases:
            assert launch.quick_parse(words, declared, []) is None, (name, words)


def test_an_error_leaves_with_its_own_exit_code(capsys):
    from amber import errors, lifecycle

    failed = [("m.f", KeyError("k"))]
    after, before = lifecycle.HookErrors("after-restore", failed), lifecycle.HookErrors("before-snapshot", failed)
    assert (errors.AmberError.exit_code, after.exit_code, before.exit_code) == (2, 1, 2)
    for error, code in ((after, 1), (before, 2), (errors.CaptureError(f"{before}; no image was written"), 2),
                        (UsageError("bad"), 2), (KeyboardInterrupt(), 130)):
        left: list[int] = []

        def work(error=error):
            raise error

        with pytest.raises(SystemExit) as leaving:
            errors.entry_point(work, leave=left.append)
        assert leaving.value.code == code and left == [code], (error, left)
        shown = "amber: interrupted" if code == 130 else f"amber: error: {error}"
        assert capsys.readouterr().err == shown + "\n"


def test_say_and_flush_streams(capsys, monkeypatch):
    from amber import errors

    errors.say("not shown", verbose=False)
    errors.say("shown", verbose=True)
    assert capsys.readouterr().err == "amber: shown\n"
    flushed = []

    class Replaced:  # a program's own stream, whatever its flush raises
        def flush(self):
            flushed.append(self)
            raise RuntimeError("not today")

    monkeypatch.setattr(sys, "stdout", Replaced())
    monkeypatch.setattr(sys, "stderr", None)
    errors.flush_streams()  # leaving must not fail
    assert len(flushed) == 1


def test_the_restore_path_does_not_import_future_or_typing(tmp_path):
    p = run([*AMBER, "inspect", "--base-set"], cwd=tmp_path)
    base = set(p.stdout.split())
    assert p.returncode == 0 and {"amber", "amber.restore.loader", "amber.options", "amber.state"} <= base
    assert not base & {"__future__", "typing", "argparse", "importlib"}, sorted(base)
    assert not [name for name in base if name.startswith(("amber.capture", "amber.commands"))]
    # Nor what only _pickle's initialisation would pull in (amber.restore.loader._import_unpickler)
    assert not base & {"functools", "collections", "operator", "types", "keyword", "reprlib"}, sorted(base)


def test_a_restore_holds_only_the_amber_modules_it_or_the_program_imported(program):
    """Amber's own modules that the snapshotting process imported for itself (the run cache's,
    the recorders' helpers) are not in the restored sys.modules, as they are not in a cold
    run's; those the program imported are."""
    p = program('''
        import sys
        import amber, amber.multiprocessing
        if __name__ == "__main__":
            names = sorted(n for n in sys.modules if n.startswith("amber."))
            print([n for n in names if n.startswith(("amber.runcache", "amber.capture"))],
                  "amber.multiprocessing" in names, amber.multiprocessing.__name__)
    ''')
    cold = p.cold(check=True).stdout
    assert cold.startswith("[] True ")
    p.snapshot()
    assert p.restore().stdout == cold


def test_the_installed_command_hands_over_without_importing_re(program):
    """The ``amber`` command (``scripts/amber``, installed beside the interpreter) imports only
    Amber's front end before the restoring interpreter replaces it: not ``re``, as the wrapper
    of a ``[project.scripts]`` entry point would."""
    command = pathlib.Path(sys.executable).with_name("amber")
    if not command.exists():
        pytest.skip("Amber is not installed beside this interpreter (tests run from a checkout)")
    p = program("import amber\nX = 2\namber.snapshot()\nprint(X * 21)\n")
    p.snapshot()
    r = run([str(command), "restore", str(p.image)], env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert r.returncode == 0 and r.stdout == "42\n", r.stderr
    imported = {line.rsplit("|", 1)[1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}
    assert "amber.commands.cli" in imported and "re" not in imported, sorted(imported)


def test_installed_hooks_are_the_captured_records():
    from amber import lifecycle

    saved = lifecycle.registered()
    try:
        hooks = (lifecycle.Hook(lifecycle.AFTER, 0, 7, print, (), {}),
                 lifecycle.Hook(lifecycle.BEFORE, 1, 3, print, (), {}))
        lifecycle.install(hooks)
        assert lifecycle.registered() == hooks
        lifecycle.after_restore(print)  # a later registration comes after the captured ones
        assert lifecycle.registered()[-1].sequence == 8
    finally:
        lifecycle.install(saved)


def test_state_lifecycle_and_errors_contracts():
    from amber import lifecycle, state

    s = state.State()
    assert s.mode == state.PLAIN and not s.restored and s.startup_args is None
    s.enter(state.RESTORED)
    assert s.restored and not s.snapshotting
    with pytest.raises(ValueError):
        s.enter("restoring-ish")
    assert issubclass(lifecycle.HookErrors, AmberError)
    hook = lifecycle.Hook(lifecycle.AFTER, 5, 1, print, (1,), {"end": ""})
    assert (hook.kind, hook.priority, hook.sequence, hook.fn, hook.args, hook.kwargs) == tuple(hook)
    import pickle

    assert pickle.loads(pickle.dumps(hook)) == hook and type(pickle.loads(pickle.dumps(hook))) is lifecycle.Hook
    import amber.errors

    assert not hasattr(amber.errors, "RestoreError")
    assert not hasattr(sys.modules["amber"], "_state")  # the state is amber.state.STATE, one name


def test_short_options_written_together_end_where_argparse_ends_them():
    """``-vm MODULE``, ``-vmMODULE``, ``-oIMAGE SCRIPT``: Amber's words end where argparse ends
    them, so the program's first argument is never taken for Amber's (``-vmmod zz`` kept ``zz``
    from the program once)."""
    cases = [(launch.RUN, ["-vmmod", "zz", "yy"], ["-vmmod"], ["zz", "yy"]),
             (launch.RUN, ["-vm", "mod", "zz"], ["-vm", "mod"], ["zz"]),
             (launch.RUN, ["-mmod", "-v"], ["-mmod"], ["-v"]),
             (launch.SNAPSHOT, ["-oimg.amber", "a.py", "zz"], ["-oimg.amber", "a.py"], ["zz"]),
             (launch.SNAPSHOT, ["-o", "img.amber", "-m", "mod", "zz"], ["-o", "img.amber", "-m", "mod"], ["zz"])]
    for declared, argv, head, rest in cases:
        assert launch.split_program(argv, declared) == (head, rest), argv
    for argv, args in ((["-vmmod", "zz", "yy"], ["zz", "yy"]), (["-vm", "mod", "zz"], ["zz"])):
        command, parsed = cli.parse(["run", *argv])
        assert parsed.module == "mod" and parsed.args == args, (argv, vars(parsed))


# == Bad input and a hostile world: one line, never a traceback (issue 11, sections 3 and 5) =========

STARTUP = """\
import pathlib
pathlib.Path(__file__).with_name("started").write_text("start-up ran")
if __name__ == "__main__":
    print("resumed")
"""


def _other_user(tmp_path):
    """A command prefix that runs as another user (uid 65534): root ignores permission bits, so a
    directory another user cannot write is the only way to test one. Skips if none can be had."""
    import os
    import shutil
    import subprocess

    if os.geteuid() != 0:
        return []  # permission bits apply to this user already
    if shutil.which("setpriv") is None:
        pytest.skip("needs setpriv to run as another user")
    prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    probe = subprocess.run([*prefix, sys.executable, "-c", "import amber"], cwd=tmp_path, capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"uid 65534 cannot run this interpreter: {probe.stderr[-200:]!r}")
    return prefix


def test_snapshot_checks_its_output_before_start_up_runs(tmp_path):
    """``-o`` naming the script, a directory, nothing, a device, a file that is not an image, a
    directory that is missing or not writable: one line before start-up runs, nothing written."""
    import os

    script = tmp_path / "app.py"
    script.write_text(STARTUP)
    source = script.read_bytes()
    (tmp_path / "out").mkdir()
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "file").write_text("")
    for output, text in [
        (str(script), "it is the script itself"),
        ("app.py", "it is the script itself"),
        ("out/", "it is a directory"),
        ("out", "it is a directory"),
        ("", "-o needs a file name, not an empty string"),
        ("/proc/x", "cannot create a file in /proc"),
        ("missing/app.amber", "no such directory"),
        ("file/app.amber", "not a directory"),
        ("/dev/null", "not a regular file"),
        ("notes.txt", "is not an Amber image"),
        ("x" * 300, "File name too long"),
    ]:
        line = one_line_error(run([*AMBER, "snapshot", "-o", output, str(script)], cwd=tmp_path))
        assert text in line, (output, line)
        assert not (tmp_path / "started").exists(), (output, "start-up ran")
    assert script.read_bytes() == source and (tmp_path / "notes.txt").read_text() == "mine"
    assert sorted(os.listdir(tmp_path)) == ["app.py", "file", "notes.txt", "out"]  # no probe, no partial file
    # An image is replaced (the only kind of file that is), an empty file too.
    run([*AMBER, "snapshot", "-o", "app.amber", str(script)], cwd=tmp_path, check=True)
    run([*AMBER, "snapshot", "-o", "app.amber", str(script)], cwd=tmp_path, check=True)
    assert run([*AMBER, "restore", "app.amber"], cwd=tmp_path, check=True).stdout == "resumed\n"


@pytest.fixture
def shared_tmp():
    """A directory in /tmp that other users can enter (pytest's own are 0700)."""
    import shutil
    import tempfile

    path = pathlib.Path(tempfile.mkdtemp(prefix="amber-test-"))
    path.chmod(0o755)
    yield path
    for sub in path.rglob("*"):
        if sub.is_dir() and not sub.is_symlink():
            sub.chmod(0o755)
    shutil.rmtree(path)


def test_snapshot_refuses_a_directory_it_cannot_write(shared_tmp):
    """Written for real (a file made and removed): another user's directory, as that user sees it."""
    import os

    tmp_path = shared_tmp
    prefix = _other_user(tmp_path)
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o755)
    script = theirs / "app.py"
    script.write_text(STARTUP)
    mine = tmp_path / "config"
    mine.mkdir()
    if prefix:
        os.chown(mine, 65534, 65534)
    else:
        os.chmod(theirs, 0o555)
    r = run([*prefix, *AMBER, "snapshot", "-o", str(theirs / "app.amber"), str(script)], cwd=tmp_path,
            env={"XDG_CONFIG_HOME": str(mine), "HOME": str(mine)})
    assert "cannot create a file in" in one_line_error(r) and "Permission denied" in r.stderr
    assert os.listdir(theirs) == ["app.py"]


def test_key_directories_that_cannot_be_used_are_one_line(tmp_path):
    """XDG_CONFIG_HOME naming a file, HOME unset, AMBER_KEY_FILE naming a directory: keygen,
    trust and snapshot say so in one line (snapshot before start-up runs)."""
    import os

    script = tmp_path / "app.py"
    script.write_text(STARTUP)
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    public = tmp_path / "k.pub"
    public.write_text(_public_key_file())
    no_home = {name: value for name, value in os.environ.items() if name not in ("HOME", "XDG_CONFIG_HOME")}
    cases = [
        ({"XDG_CONFIG_HOME": str(a_file)}, "Not a directory"),
        ({"AMBER_KEY_FILE": str(tmp_path)}, "is not a file"),
        ({"AMBER_KEY_FILE": str(tmp_path / "missing" / "key")}, "no such directory"),
        ("no home", "neither HOME nor XDG_CONFIG_HOME is set"),
    ]
    for env, text in cases:
        for command in (["snapshot", "-o", "app.amber", str(script)], ["keygen"], ["trust", str(public)]):
            if isinstance(env, str) and env == "no home":
                import subprocess

                r = subprocess.run([*AMBER, *command], cwd=tmp_path, env=no_home, capture_output=True,
                                   text=True, stdin=subprocess.DEVNULL, timeout=60)
            elif "AMBER_KEY_FILE" in env and command[0] != "snapshot":
                continue  # only images are signed with the HMAC key
            else:
                r = run([*AMBER, *command], cwd=tmp_path, env=env)
            if command == ["keygen"] and "cryptography package" in r.stderr:
                continue
            assert text in one_line_error(r), (env, command, r.stderr)
            assert not (tmp_path / "started").exists() and not (tmp_path / "app.amber").exists()
    assert not os.path.exists("/tmp/.config/amber/ed25519.key") or os.stat("/tmp/.config").st_uid == os.geteuid()


# RFC 8032's first test vector: a real Ed25519 public key, in the file format `amber keygen` writes.
RFC8032_PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"


def _public_key_file() -> str:
    return f"{RFC8032_PUBLIC} amber-ed25519-public\n"


def test_trust_takes_only_public_keys_and_never_copies_a_secret(tmp_path):
    """``amber trust`` of the HMAC secret key (64 hex digits, as a public key is) copied the secret
    into a 0644 file: every secret, and anything that is not an Ed25519 public key, is refused."""
    import os

    config = tmp_path / "config"
    env = {"XDG_CONFIG_HOME": str(config)}
    script = tmp_path / "app.py"
    script.write_text(STARTUP)
    run([*AMBER, "snapshot", "-o", "app.amber", str(script)], cwd=tmp_path, env=env, check=True)
    hmac_key = config / "amber" / "hmac.key"
    assert os.stat(hmac_key).st_mode & 0o777 == 0o600
    copy = tmp_path / "copy-of-the-secret"
    copy.write_text(hmac_key.read_text())
    os.chmod(copy, 0o644)
    elsewhere = tmp_path / "another-machines-secret"
    elsewhere.write_text(os.urandom(32).hex() + "\n")
    not_a_point = tmp_path / "not-a-point.pub"  # y = 2: no x makes it a point of the curve
    not_a_point.write_text("02" + "00" * 31 + " amber-ed25519-public\n")
    (tmp_path / "private.pem").write_text("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY-----\n")
    (tmp_path / "bytes").write_bytes(b"\xff\xfe" * 40)
    for path, text in [
        (hmac_key, "this machine's HMAC secret key"),
        (copy, "this machine's HMAC secret key"),
        (elsewhere, "64 hex digits alone are what an HMAC secret key looks like"),
        (not_a_point, "not a point of the curve"),
        (tmp_path / "private.pem", "is a private key"),
        (tmp_path / "bytes", "not an Amber public key"),
        (tmp_path, "Is a directory"),
        (tmp_path / "missing.pub", "No such file or directory"),
        ("/dev/zero", "not an Amber public key"),
    ]:
        line = one_line_error(run([*AMBER, "trust", str(path)], env=env))
        assert text in line, (path, line)
    assert not (config / "amber" / "trusted").exists() or not os.listdir(config / "amber" / "trusted")
    with_key = run([*AMBER, "trust", str(copy)], env={**env, "AMBER_KEY_FILE": str(tmp_path / "none"),
                                                      "AMBER_KEY": hmac_key.read_text().strip()})
    assert "HMAC secret key" in one_line_error(with_key)
    # A public key is trusted, kept mode 0644 in a directory only this user writes.
    public = tmp_path / "theirs.pub"
    public.write_text(_public_key_file())
    r = run([*AMBER, "trust", str(public)], env=env, check=True)
    assert r.stdout.startswith("trusted Ed25519 key ")
    (trusted,) = (config / "amber" / "trusted").iterdir()
    assert trusted.read_text() == public.read_text() and os.stat(trusted).st_mode & 0o777 == 0o644
    assert os.stat(config / "amber" / "trusted").st_mode & 0o022 == 0


def test_keygen_writes_a_public_key_that_trust_takes(tmp_path):
    import os

    pytest.importorskip("cryptography")
    a, b = tmp_path / "a", tmp_path / "b"
    run([*AMBER, "keygen"], env={"XDG_CONFIG_HOME": str(a)}, check=True)
    public = a / "amber" / "ed25519.pub"
    assert public.read_text().split()[1] == "amber-ed25519-public"
    assert os.stat(a / "amber" / "ed25519.key").st_mode & 0o777 == 0o600
    assert os.stat(public).st_mode & 0o777 == 0o644
    run([*AMBER, "trust", str(public)], env={"XDG_CONFIG_HOME": str(b)}, check=True)
    line = one_line_error(run([*AMBER, "trust", str(a / "amber" / "ed25519.key")], env={"XDG_CONFIG_HOME": str(b)}))
    assert "is a private key" in line


def _image(tmp_path, env=None) -> str:
    script = tmp_path / "app.py"
    script.write_text("X = list(range(500))\nif __name__ == '__main__':\n    print(len(X))\n")
    run([*AMBER, "snapshot", "-o", "app.amber", str(script)], cwd=tmp_path, env=env, check=True)
    return str(tmp_path / "app.amber")


def test_a_closed_or_broken_stdout_is_an_exit_code_and_a_full_one_a_line(tmp_path):
    """Every command that prints: stdout closed (``>&-``) or a pipe nobody reads: exit code 141,
    nothing on stderr; ``>/dev/full``: one line, exit code 2. Never a traceback (BrokenPipeError,
    OSError, AttributeError on a missing sys.stdout), never exit code 120 from the interpreter."""
    import os
    import subprocess

    env = {**os.environ, "AMBER_CACHE": str(tmp_path / "cache"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    image = _image(tmp_path, env)
    public = tmp_path / "k.pub"
    public.write_text(_public_key_file())
    commands = [["inspect", image], ["inspect", "--json", image], ["inspect", "--sections", image],
                ["inspect", "--dis", "heap", image], ["inspect", "--extract", "heap", image],
                ["inspect", "--base-set"], ["cache", "list"], ["cache", "clear"], ["trust", str(public)],
                ["--help"], ["--version"], ["run", "--help"], []]
    for command in commands:
        expected = 2 if command == [] else 0
        closed = subprocess.run(["sh", "-c", 'exec "$@" >&-', "sh", *AMBER, *command], env=env,
                                capture_output=False, stderr=subprocess.PIPE, text=True, timeout=60)
        assert (closed.returncode, closed.stderr) == (141, ""), (command, closed.returncode, closed.stderr)
        read, write = os.pipe()
        os.close(read)
        broken = subprocess.run([*AMBER, *command], env=env, stdout=write, stderr=subprocess.PIPE, text=True,
                                timeout=60)
        os.close(write)
        assert (broken.returncode, broken.stderr) == (141, ""), (command, broken.returncode, broken.stderr)
        with open("/dev/full", "w") as full:
            r = subprocess.run([*AMBER, *command], env=env, stdout=full, stderr=subprocess.PIPE, text=True,
                               timeout=60)
        assert r.stderr == "amber: error: cannot write to standard output: No space left on device\n", \
            (command, r.stderr)
        assert r.returncode == 2
        ok = subprocess.run([*AMBER, *command], env=env, capture_output=True, timeout=60)
        assert ok.returncode == expected and ok.stdout, (command, ok.returncode, ok.stderr)
    # A closed stderr is no reason to fail: the output still comes, the exit code is the same.
    r = subprocess.run(["sh", "-c", 'exec "$@" 2>&-', "sh", *AMBER, "inspect", image], env=env,
                       capture_output=False, stdout=subprocess.PIPE, text=True, timeout=60)
    assert r.returncode == 0 and "objects" in r.stdout


def test_an_os_error_that_escapes_is_one_line(capsys):
    from amber import errors

    for raised, shown in [(NotADirectoryError(20, "Not a directory", "/x/amber"), "/x/amber: Not a directory"),
                          (PermissionError(13, "Permission denied"), "Permission denied"),
                          (OSError(18, "Invalid cross-device link", "/a", None, "/b"),
                           "/a -> /b: Invalid cross-device link")]:
        left: list[int] = []

        def work(raised=raised):
            raise raised

        with pytest.raises(SystemExit):
            errors.entry_point(work, leave=left.append)
        assert left == [2] and capsys.readouterr().err == f"amber: error: {shown}\n"
    left = []

    def broken_pipe():
        raise BrokenPipeError(32, "Broken pipe")

    with pytest.raises(SystemExit):
        errors.entry_point(broken_pipe, leave=left.append)
    assert left == [errors.OUTPUT_CLOSED] == [141] and capsys.readouterr().err == ""


def test_a_module_without_python_source_is_refused(tmp_path):
    from amber.capture import mainsplit

    for source in (None, b"x = 1\0\n"):
        with pytest.raises(UsageError):
            mainsplit.split_source(source, "frozen")
    for module in ("os.path", "__hello__", "sys", "_json"):
        line = one_line_error(run([*AMBER, "snapshot", "-o", "m.amber", "-m", module], cwd=tmp_path))
        assert "no Python source" in line, (module, line)
    assert not (tmp_path / "m.amber").exists()


def test_cache_clear_says_what_it_could_not_remove(shared_tmp):
    """A cache entry another user cannot change (here: uid 65534's cache with an entry it may not
    write): clear removes the rest, says how many images it removed and what it could not, exit 2."""
    import os

    tmp_path = shared_tmp
    prefix = _other_user(tmp_path)
    cache = tmp_path / "cache"
    for entry in ("aaaa", "bbbb"):
        (cache / entry).mkdir(parents=True)
        (cache / entry / "0123.amber").write_bytes(b"\x89AMB\r\n\x1a\n")
        (cache / entry / "program").write_bytes(b"")
    (cache / "key").write_bytes(os.urandom(32))
    if prefix:
        for path in (cache, cache / "aaaa", cache / "bbbb", *(cache / "aaaa").iterdir(), *(cache / "bbbb").iterdir(),
                     cache / "key"):
            os.chown(path, 65534, 65534)
    os.chmod(cache / "bbbb", 0o555)
    os.chmod(cache, 0o700)
    try:
        r = run([*prefix, *AMBER, "cache", "clear"], cwd=tmp_path, env={"AMBER_CACHE": str(cache)})
    finally:
        os.chmod(cache / "bbbb", 0o755)
    assert r.stdout == f"removed 1 image(s) from {cache}\n"
    line = one_line_error(r)
    assert "could not remove 1 image(s)" in line and "bbbb" in line and "Permission denied" in line
    assert sorted(os.listdir(cache)) == ["bbbb", "key"]
    r = run([*AMBER, "cache", "clear"], cwd=tmp_path, env={"AMBER_CACHE": str(cache)}, check=True)
    assert r.stdout == f"removed 1 image(s) from {cache}\n" and os.listdir(cache) == ["key"]


def test_the_image_magic_the_output_check_knows_is_the_format_s():
    from amber.commands import paths
    from amber.image import format as fmt

    assert paths.IMAGE_MAGIC == fmt.MAGIC


def test_the_curve_check_takes_public_keys_and_refuses_half_of_random_bytes():
    import os

    from amber.commands import keys

    assert keys.is_ed25519_point(bytes.fromhex(RFC8032_PUBLIC))
    assert not keys.is_ed25519_point(bytes.fromhex("02" + "00" * 31))
    assert not keys.is_ed25519_point(b"\xff" * 32)  # y >= p
    refused = sum(not keys.is_ed25519_point(os.urandom(32)) for _ in range(400))
    assert 120 < refused < 280, refused
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    except ImportError:
        return
    for _ in range(50):
        public = Ed25519PrivateKey.generate().public_key()
        assert keys.is_ed25519_point(public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
