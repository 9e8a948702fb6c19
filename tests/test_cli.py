"""The ``amber`` command line: per-command help, one-line errors, the program's arguments passed on
unchanged, Ctrl-C, and the typed options that cross into the child interpreter."""

import json
import sys

import pytest
from conftest import AMBER, run

from amber.commands import cli, launch
from amber.commands.parser import build_parser
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
        parser, _ = build_parser(cli.COMMANDS, cli.USAGE, cli.EPILOG, name)
        for words in cases:
            head, rest = launch.split_program([*words, "--help", "-v"], declared)
            assert (head, rest) == (words, ["--help", "-v"]), (name, words)
            quick = launch.quick_parse(head, declared)
            assert quick is not None, (name, words)
            full, extras = parser.parse_known_args([name, *head])
            assert extras == []
            expected = {k: v for k, v in vars(full).items() if k != "command"}
            assert vars(quick) == expected, (name, words)
    for name, cases in NOT_QUICK.items():
        declared = getattr(launch, name.upper())
        for words in cases:
            assert launch.quick_parse(words, declared) is None, (name, words)


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
    assert sys.modules["amber"]._state is state.STATE
