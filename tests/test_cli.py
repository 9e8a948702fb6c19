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
    "run": ["--rebuild", "--verbose", "--reimport PKG", "--allow-secret NAME", "--strict", "-m MODULE"],
    "snapshot": ["--output IMAGE", "--lazy-code", "--reimport PKG", "--strict", "-m MODULE"],
    "restore": ["--insecure", "--verify-buffers", "IMAGE"],
    "inspect": ["--json", "--insecure", "--base-set", "IMAGE"],
    "cache": ["list", "clear"],
    "keygen": ["--force"],
    "trust": ["PUBLIC_KEY"],
}
NOT_THEIRS = {"run": "--lazy-code", "snapshot": "--rebuild", "restore": "--reimport", "inspect": "--rebuild",
              "cache": "--json", "keygen": "--insecure", "trust": "--force"}


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
    assert "amber run [--rebuild] [-v] [OPTIONS] -m MODULE [ARGS...]" in usage
    assert "amber restore [--insecure] [--verify-buffers] IMAGE [ARGS...]" in usage
    for name in ("inspect", "cache", "keygen", "trust"):  # theirs, as their own --help shows it
        own = run([*AMBER, name, "--help"], cwd=tmp_path).stdout.split("\n\n")[0].removeprefix("usage: ")
        assert all(line.strip().replace(" [-h]", "") in usage for line in own.splitlines()), (name, own)
    assert any("(--sections | --dis NAME | --extract NAME)" in line for line in usage)
    assert "COMMAND" not in top.split("commands:")[1].split("\n\n")[0]  # no metavar row above the list
    assert "--reimport PKG, --allow-secret NAME, --strict." in top
    readme = (pathlib.Path(__file__).parent.parent / "README.md").read_text().split("## Use")[1].split("##")[0]
    assert all(line in readme for line in usage if not line.startswith("amber COMMAND")), readme
    # A new option shows up in every usage at once: nothing is written by hand.
    monkeypatch.setattr(launch, "RUN", (*launch.RUN[:2], launch.Option("--new", dest="new", help="n"),
                                        *launch.RUN[2:]))
    monkeypatch.setattr(launch, "BUILD", (*launch.BUILD, launch.Option("--also", dest="also", help="a")))
    assert "[-v] [--new] [--reimport PKG]..." in cli.make_parser("run")[1]["run"].format_usage()
    parser, _ = cli.make_parser()
    assert "amber run [--rebuild] [-v] [--new] [OPTIONS] SCRIPT" in parser.format_usage()
    assert "--strict, --also." in parser.format_help()


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
            r = run([*AMBER, "run", "-v", *target, *TRICKY], cwd=tmp_path, env=env, check=True)
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
