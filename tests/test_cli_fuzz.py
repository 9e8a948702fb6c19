"""The ``amber`` command fuzzed: generated command lines and environments, never a traceback.

Each case runs the real ``amber`` command (``python -m amber``) in a fresh subprocess, with a
timeout, on a command line made of random words: a subcommand (run, snapshot, restore, inspect,
cache, keygen, trust, help, none), option words taken from the declarations (``amber.commands.launch``'s
:class:`~amber.commands.launch.Option` rows, and every option string of the argparse parser, so a new
option is fuzzed as soon as it is declared), and paths of every awkward kind (missing, a directory, a
file that is not an image, ``/dev/null``, ``/dev/full``, ``/proc/self/mem``, the empty string, a
name too long for the file system, bytes that are not UTF-8), in an environment with awkward
values (bytes that are not UTF-8, ``AMBER_CACHE`` naming a file or nothing, ``AMBER_CACHE_SIZE=abc/-1/inf/1e400/nan``,
``AMBER_KEY``, ``AMBER_KEY_FILE`` naming a directory, ``HOME`` unset, ``XDG_CONFIG_HOME`` naming a
file, ``XDG_CACHE_HOME`` naming a file or nothing), and sometimes with standard output closed or
``/dev/full``.

Every case must end with an exit code of the documented set (:mod:`amber.errors`: 0, 1, 2, 141;
the fuzzed programs exit 0 themselves), never by a signal, within the timeout, with no
traceback from Amber's internals on stderr (one that ends in the program, a script that is not
Python run as one, is the program's, as under ``python``), and an exit code 2 must come with its ``amber: error:`` line (or the
usage, for ``amber`` alone). Everything the commands write goes to a scratch world (a home, a
cache and a configuration directory of the test's own): the user's files are never touched.

Bounded by default (``AMBER_CLI_FUZZ`` cases, 300, two at a time: about 30 s on two cores). The full run: ``AMBER_CLI_FUZZ=3000 python -m pytest tests/test_cli_fuzz.py``; the seed is
``AMBER_CLI_FUZZ_SEED`` (default: a fixed one, so CI is repeatable; ``random`` for a new one each
run, printed on failure with each failing case, which the failure message gives in full so that it
can be run again by hand).
"""

import os
import random
import shlex
import signal
import subprocess
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import AMBER

from amber.commands import cli, launch

CASES = int(os.environ.get("AMBER_CLI_FUZZ", "300"))
_SEED = os.environ.get("AMBER_CLI_FUZZ_SEED", "20251202")
SEED = random.randrange(1 << 32) if _SEED == "random" else int(_SEED)
TIMEOUT = 60  # seconds per case: a hang is a failure
EXIT_CODES = {0, 1, 2, 141}  # amber.errors: done, hooks failed, error, standard output closed

SCRIPT = """\
import sys
import amber
TABLE = {i: str(i) for i in range(200)}
amber.snapshot()
print(len(TABLE), len(sys.argv))
"""


def _subcommands():
    return [command.name for command in cli.COMMANDS]


def _option_words():
    """Every option string Amber declares: the launch rows, and argparse's parser (inspect...)."""
    words = {name for rows in (launch.RUN, launch.SNAPSHOT, launch.RESTORE) for option in rows
             for name in option.names if name.startswith("-")}
    parser, subparsers = cli.make_parser()
    for p in (parser, *subparsers.values()):
        for action in p._actions:  # argparse's own list of what it parses
            words.update(action.option_strings)
    return sorted(words)


class World:
    """The scratch files every case works in, made once."""

    def __init__(self, root):
        self.root = root
        self.home = root / "home"
        self.home.mkdir()
        self.dir = root / "a-dir"
        self.dir.mkdir()
        self.file = root / "a-file"
        self.file.write_text("not an image\n")
        self.script = root / "app.py"
        self.script.write_text(SCRIPT)
        (root / "appmod.py").write_text(SCRIPT)
        self.pub = root / "k.pub"
        self.pub.write_text("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a amber-ed25519-public\n")
        self.secret = root / "secret.key"
        self.secret.write_text(os.urandom(32).hex() + "\n")
        self.env = {name: value for name, value in os.environ.items()
                    if not name.startswith(("AMBER_", "XDG_")) and name not in ("HOME", "PYTHONPATH")}
        self.env.update(HOME=str(self.home), XDG_CONFIG_HOME=str(root / "config"),
                        XDG_CACHE_HOME=str(root / "xdg-cache"), AMBER_CACHE=str(root / "cache"))
        self.image = root / "app.amber"
        made = subprocess.run([*AMBER, "snapshot", "-o", str(self.image), str(self.script)], cwd=root,
                              env=self.env, capture_output=True, text=True, timeout=TIMEOUT)
        assert made.returncode == 0, made.stderr
        self.paths = [str(self.image), str(self.script), str(self.dir), str(self.dir) + "/", str(self.file),
                      str(root / "missing"), str(root / "missing" / "deeper.amber"), str(root / "new.amber"),
                      "/dev/null", "/dev/full", "/proc/self/mem", "", "x" * 300, f"{root}/{'y' * 250}/z",
                      os.fsencode(str(root)) + b"/\xff\xfe.amber", b"\xc3\x28", str(self.pub), str(self.secret),
                      "app.py", "app.amber", "-", "--", str(root / "config" / "amber" / "hmac.key")]
        self.modules = ["appmod", "os.path", "__hello__", "sys", "json", "", "no.such.module", "_json",
                        "appmod.x", "-v", "\udcff"]


def _word(rng, world, options):
    kind = rng.random()
    if kind < 0.35:
        return rng.choice(options)
    if kind < 0.75:
        return rng.choice(world.paths)
    if kind < 0.85:
        return rng.choice(world.modules)
    return rng.choice(["list", "clear", "heap", "header", "stats", "--", "-", "=", "-o=x", "--output=",
                       "--dis=heap", "-vm", "-oimg.amber", "help", "--json", "1", "é"])


def _command_line(rng, world, options):
    commands = _subcommands()
    first = rng.random()
    if first < 0.85:
        words = [rng.choice(commands)]
    elif first < 0.93:
        words = [rng.choice(["help", "--help", "--version", "frobnicate"])]
    else:
        words = []
    name = words[0] if words else ""
    if name in ("run", "snapshot") and rng.random() < 0.6:  # often well formed up to the program
        head = [w for w in (rng.choice(["", "-v", "--strict", "--rebuild", "--lazy-code"]),) if w]
        if name == "snapshot" and rng.random() < 0.7:
            head += ["-o", rng.choice(world.paths)]
        target = ["-m", rng.choice(world.modules)] if rng.random() < 0.3 else [rng.choice(world.paths)]
        words += [w for w in head if name == "run" or w not in ("-v", "--rebuild")] + target
    elif name == "restore" and rng.random() < 0.5:
        words += [rng.choice(["", "--insecure", "--verify-buffers"]), rng.choice(world.paths)]
        words = [w for w in words if w != ""] if rng.random() < 0.8 else words
    elif name == "inspect" and rng.random() < 0.5:
        words += [rng.choice(["--json", "--sections", "--dis", "--extract", "--base-set", "--insecure"])]
        if words[-1] in ("--dis", "--extract"):
            words.append(rng.choice(["heap", "header", "stats", "nope", ""]))
        words.append(rng.choice(world.paths))
    for _ in range(rng.choice([0, 0, 1, 2, 3, 5])):
        words.append(_word(rng, world, options))
    return words


def _environment(rng, world):
    env = dict(world.env)
    root = world.root
    for _ in range(rng.choice([0, 0, 1, 2, 3])):
        name = rng.choice(["AMBER_CACHE", "AMBER_CACHE_SIZE", "AMBER_KEY", "AMBER_KEY_FILE", "HOME",
                           "XDG_CONFIG_HOME", "XDG_CACHE_HOME"])
        value = {
            "AMBER_CACHE": [str(world.file), str(root / "missing" / "c"), "", "/dev/null", str(world.dir),
                            os.fsencode(str(root)) + b"/cache-\xff"],
            "AMBER_CACHE_SIZE": ["abc", "-1", "inf", "1e400", "nan", "", "0", "10", "1.5G", "9" * 400],
            "AMBER_KEY": ["", "k", "é" * 3, str(world.dir), b"\xff\xfe"],
            "AMBER_KEY_FILE": [str(world.dir), str(world.file), str(root / "missing" / "k"), ""],
            "HOME": [None, "", str(world.file), os.fsencode(str(root)) + b"/home-\xff"],
            "XDG_CONFIG_HOME": [str(world.file), "", str(root / "missing" / "cfg"), "/dev/null",
                                os.fsencode(str(root)) + b"/config-\xff"],
            "XDG_CACHE_HOME": [str(world.file), "", str(root / "missing" / "xc"), os.fsencode(str(root)) + b"/\xff"],
        }[name]
        chosen = rng.choice(value)
        if chosen is None:  # HOME unset, and XDG_CONFIG_HOME too half of the time
            env.pop(name, None)
            if rng.random() < 0.5:
                env.pop("XDG_CONFIG_HOME", None)
        else:
            env[name] = chosen
    return env


def _stdout_kind(rng):
    return rng.choices(["pipe", "closed", "full"], weights=[8, 1, 1])[0]


def _run(case):
    words, env, stdout_kind, cwd = case
    cmd = [*AMBER, *words]
    full = None
    if stdout_kind == "closed":
        cmd = ["sh", "-c", 'exec "$@" >&-', "sh", *cmd]
        stdout = None
    elif stdout_kind == "full":
        full = open("/dev/full", "wb")
        stdout = full
    else:
        stdout = subprocess.PIPE
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=stdout,
                           stderr=subprocess.PIPE, timeout=TIMEOUT)
        return p.returncode, (p.stdout or b"").decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        return "timeout", "", ""
    finally:
        if full is not None:
            full.close()


AMBER_DIR = os.path.dirname(os.path.abspath(launch.__file__)).rsplit(os.sep, 1)[0]


def _innermost_frame_is_amber(err: str) -> bool:
    """Whether a traceback on stderr ends in Amber's code (a program's own traceback, which runs
    through Amber's frame that runs it, ends in the program: as under python, it is the program's)."""
    frames = [line.strip() for line in err.splitlines() if line.strip().startswith('File "')]
    return bool(frames) and frames[-1].startswith(f'File "{AMBER_DIR}{os.sep}')


def _problem(words, stdout_kind, code, out, err):
    if code == "timeout":
        return f"no answer within {TIMEOUT} s"
    if code < 0:
        return f"killed by signal {signal.Signals(-code).name}"
    if "Traceback (most recent call last)" in err and _innermost_frame_is_amber(err):
        return "a traceback from Amber's internals"
    program_failed = "Traceback (most recent call last)" in err and not _innermost_frame_is_amber(err)
    if code not in EXIT_CODES and not (program_failed and stdout_kind != "pipe"):
        # (A program whose print fails on a full or closed stdout leaves as the interpreter makes
        # it: 1, or 120 when flushing at exit fails again.)
        return f"exit code {code}"
    if code == 2 and "amber: error:" not in err and not out.startswith("usage: amber"):
        return "exit code 2 without an 'amber: error:' line"
    if code == 141 and stdout_kind == "pipe":
        return "exit code 141 though standard output was a working pipe"
    return None


def _shown(words, env, stdout_kind, world_env):
    changed = {k: v for k, v in env.items() if world_env.get(k) != v}
    removed = sorted(set(world_env) - set(env))
    parts = [f"{k}={shlex.quote(os.fsdecode(v))}" for k, v in sorted(changed.items())]
    parts += [f"-u {k}" for k in removed]
    line = " ".join(shlex.quote(os.fsdecode(w)) for w in words)
    redirect = {"closed": " >&-", "full": " >/dev/full", "pipe": ""}[stdout_kind]
    return f"env {' '.join(parts)} amber {line}{redirect}".replace("env  amber", "amber")


def test_the_command_line_and_environment_fuzzed(tmp_path):
    if not os.path.exists("/dev/full") or not os.path.exists("/proc/self/mem"):
        pytest.skip("needs Linux's /dev/full and /proc")
    world = World(tmp_path)
    options = _option_words()
    assert {"--output", "--lazy-code", "--reimport", "--insecure", "--sections", "--base-set", "--force"} <= set(options)
    rng = random.Random(SEED)
    cases = []
    for _ in range(CASES):
        cases.append((_command_line(rng, world, options), _environment(rng, world), _stdout_kind(rng),
                      str(tmp_path)))
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(_run, cases))
    failures = []
    codes: dict = {}
    for (words, env, stdout_kind, _cwd), (code, out, err) in zip(cases, results, strict=True):
        codes[code] = codes.get(code, 0) + 1
        problem = _problem(words, stdout_kind, code, out, err)
        if problem is not None:
            failures.append(f"{problem}: {_shown(words, env, stdout_kind, world.env)}\n"
                            + textwrap.indent(err.strip()[-1500:], "    "))
    assert not failures, (f"seed {SEED}, {len(failures)} of {CASES} cases failed (exit codes {codes}):\n"
                          + "\n".join(failures[:25]))
    # The fuzz reached the commands, not only the parser's errors.
    assert codes.get(0, 0) >= CASES // 20 and codes.get(2, 0) >= CASES // 10, codes
