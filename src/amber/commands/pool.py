"""``amber pool start|list|stop``: a user's pools of instances (the pool itself is :mod:`amber.pool`).

``start`` starts the server detached (its own session, standard streams on ``/dev/null``, what
it prints in its log beside its socket) and returns once the image is loaded and the socket
listens, with one line saying so, or with the server's error; a pool of the same image file that
is running already is said, not started twice. ``list`` reads the pools' records (a record whose
server is gone is removed, with its socket). ``stop`` sends the server SIGTERM and waits until
its socket is gone: running instances finish, and their callers get their status.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from amber._files import BOOT
from amber.errors import AmberError, UsageError, describe_os_error, output
from amber.options import PoolOptions
from amber.pool import paths

__all__ = ["add_arguments", "run", "DEFAULT_SIZE"]

DEFAULT_SIZE = 64  # instances at once; past it, callers restore by themselves (never worse)
READY_SECONDS = 600  # loading a large image takes seconds; a server silent this long is given up
STOP_SECONDS = 30


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``amber pool``'s command line (see :mod:`amber.commands.cli`)."""
    parser.usage = ("%(prog)s start [--size N] [--idle-timeout S] [--fresh-process] IMAGE\n"
                    "       %(prog)s start [--size N] [--idle-timeout S] [--fresh-process] SCRIPT [ARGS...]\n"
                    "       %(prog)s list\n       %(prog)s stop (IMAGE | SCRIPT | --all)")
    parser.epilog = ("While a pool of IMAGE runs, `amber restore IMAGE`, `./IMAGE` and a cached `amber run` "
                     "start their instance from it (--no-pool restores in the caller). Each instance gets "
                     "fresh random state; it shares the pool's hash seed and address layout.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    start = actions.add_parser("start", prog="amber pool start",
                               help="restore IMAGE once into a resident parent; returns when ready")
    start.add_argument("image", metavar="IMAGE", help="the image, or a script: the image amber run caches "
                                                      "for SCRIPT ARGS (run it once first)")
    start.add_argument("--size", type=int, default=DEFAULT_SIZE, metavar="N",
                       help=f"at most N instances at once (default {DEFAULT_SIZE})")
    start.add_argument("--idle-timeout", type=float, default=0.0, metavar="S",
                       help="stop after S seconds without an instance (default: never)")
    start.add_argument("--fresh-process", action="store_true",
                       help="each instance execs a restore: its own address layout and hash seed, at the "
                            "cost of a restore (amber restore and ./IMAGE only)")
    start.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS", help="a script's arguments")
    actions.add_parser("list", prog="amber pool list",
                       help="the pools running: image, pid, instances served, memory")
    stop = actions.add_parser("stop", prog="amber pool stop",
                              help="stop the pool of IMAGE (or every pool, --all)")
    stop.add_argument("image", nargs="?", metavar="IMAGE", help="the image (or script)")
    stop.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS", help="a script's arguments")
    stop.add_argument("--all", action="store_true", help="every pool of this user's")


def run(opts: argparse.Namespace) -> int:
    if opts.action is None:
        raise UsageError("pool needs an action: start, list or stop; see 'amber pool --help'")
    if opts.action == "start":
        if opts.size < 1 or opts.idle_timeout < 0:
            raise UsageError("--size must be 1 or more and --idle-timeout 0 or more; see 'amber pool --help'")
        return start(_image_of(opts.image, opts.args), opts.size, opts.idle_timeout, opts.fresh_process)
    if opts.action == "list":
        return list_pools()
    if opts.image is None and not opts.all:
        raise UsageError("pool stop needs an image or --all; see 'amber pool --help'")
    return stop(None if opts.all else _image_of(opts.image, opts.args, must_exist=False))


def _image_of(given: str, args: list, must_exist: bool = True) -> str:
    """``given`` if it is an image (or anything but a script, which the server then refuses);
    for a script (``.py``, not an image), the image ``amber run SCRIPT ARGS`` restores from its
    cache."""
    from amber.commands.paths import IMAGE_MAGIC

    try:
        with open(given, "rb") as f:
            head = f.read(512)
    except OSError:
        if must_exist:
            raise AmberError(f"no such image file: {given}") from None
        return given
    if head.startswith(b"#!"):  # an image's launch line
        head = head[head.find(b"\n") + 1:]
    if head.startswith(IMAGE_MAGIC) or not given.endswith(".py"):
        if args:
            raise UsageError(f"arguments after an image ({args[0]!r}) belong to no one: an image's "
                             "instances get their callers' arguments")
        return given
    from amber.options import RunOptions
    from amber.restore.run import cached_image

    image = cached_image(RunOptions(given, args=args))
    if must_exist and not os.path.isfile(image):
        raise AmberError(f"amber run has no image of {given} {' '.join(args)}".rstrip()
                         + " yet: run it once with amber run first")
    return image


def _image_path(image: str) -> str:
    path = os.path.abspath(image)
    if not os.path.isfile(path):
        raise AmberError(f"no such image file: {image}")
    return path


def start(image: str, size: int, idle_timeout: float, fresh_process: bool = False) -> int:
    path = _image_path(image)
    try:
        directory = paths.make_pool_dir()
        name = paths.pool_name(paths.identity(path))
    except OSError as e:
        raise AmberError(f"cannot use the pool directory: {describe_os_error(e)}") from None
    running = _record(directory, name)
    if running is not None and _alive(running):
        output(f"amber: a pool of {path} is running already (pid {running['pid']})\n")
        return 0
    ready_r, ready_w = os.pipe()
    log = paths.log_path(directory, name)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the detached server's side (its own tests are end to end)
        _detach_and_exec(PoolOptions(path, size=size, idle_timeout=idle_timeout, fresh_process=fresh_process,
                                     ready_fd=ready_w), log)
    os.close(ready_w)
    os.waitpid(pid, 0)
    line = _read_line(ready_r, READY_SECONDS)
    if line.startswith("ready "):
        output(f"amber: pool of {path} ready (pid {line.split()[1]}, up to {size} instances at once)\n")
        return 0
    if line.startswith("error "):
        raise AmberError(f"the pool did not start: {line[len('error '):]}")
    raise AmberError(f"the pool did not start (its server ended without a word; see {log})")


def _detach_and_exec(options: PoolOptions, log: str) -> None:
    ready_w = options.ready_fd
    try:
        os.setsid()
        if os.fork():
            os._exit(0)
        null = os.open(os.devnull, os.O_RDWR)
        err = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0), 0o600)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.dup2(err, 2)
        os.set_inheritable(ready_w, True)
        cmd = [sys.executable, "-I", "-S", BOOT, "pool", *options.encode()]
        os.execv(cmd[0], cmd)
    except BaseException as e:
        try:
            os.write(ready_w, f"error cannot start the server: {e}\n".encode())
        finally:
            os._exit(2)


def _read_line(fd: int, seconds: float) -> str:
    import select

    data = b""
    deadline = time.monotonic() + seconds
    try:
        while b"\n" not in data:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return "error the server did not say it was ready in time"
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    return data.decode("utf-8", "replace").strip()


def _records(directory: str) -> list[dict]:
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    found = []
    for entry in names:
        if entry.endswith(".pool") and not entry.startswith("."):
            record = _record(directory, entry[:-len(".pool")])
            if record is not None:
                found.append(record)
    return found


def _record(directory: str, name: str) -> dict | None:
    from amber._files import read_regular

    raw = read_regular(paths.record_path(directory, name), 1 << 16)
    if raw is None:
        return None
    record: dict = {"name": name}
    for line in raw.decode("utf-8", "surrogateescape").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            record[key] = value
    try:
        record["pid"] = int(record["pid"])
    except (KeyError, ValueError):
        return None
    return record


def _alive(record: dict) -> bool:
    """Whether the record's server runs (its pid is a pool server of this user's, not a reused pid)."""
    try:
        with open(f"/proc/{record['pid']}/cmdline", "rb") as f:
            cmdline = f.read().split(b"\0")
    except OSError:
        try:
            os.kill(record["pid"], 0)
            return True  # no /proc here: the pid is all there is to go by
        except OSError:
            return False
    return BOOT.encode() in cmdline and b"pool" in cmdline


def _forget(directory: str, record: dict) -> None:
    for path in (paths.record_path(directory, record["name"]), paths.socket_path(directory, record["name"])):
        try:
            os.unlink(path)
        except OSError:
            pass


def _pss(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return f"{int(line.split()[1]) / 1024:.1f} MB"
    except OSError:
        pass
    return "?"


def list_pools() -> int:
    directory = paths.pool_dir()
    lines = []
    for record in _records(directory):
        if not _alive(record):
            _forget(directory, record)
            continue
        since = time.strftime("%Y-%m-%d %H:%M", time.localtime(float(record.get("started", 0))))
        lines.append(f"  {record.get('image', '?')}  pid {record['pid']}  "
                     f"served {record.get('served', '?')}  "
                     f"running {record.get('running', '?')}/{record.get('size', '?')}  "
                     f"PSS {_pss(record['pid'])}  since {since}")
    output(f"pools in {directory}: {len(lines)}\n" + "".join(line + "\n" for line in lines))
    return 0


def stop(image: str | None) -> int:
    """Stop the pools of ``image`` (whatever version of the file they loaded), or all (None)."""
    directory = paths.pool_dir()
    wanted = None if image is None else os.path.abspath(image)
    chosen = [r for r in _records(directory) if wanted is None or r.get("image") == wanted]
    stopped = 0
    for record in chosen:
        if not _alive(record):
            _forget(directory, record)
            continue
        try:
            os.kill(record["pid"], 15)
        except OSError:
            continue
        deadline = time.monotonic() + STOP_SECONDS
        while time.monotonic() < deadline and os.path.exists(paths.socket_path(directory, record["name"])):
            time.sleep(0.02)
        stopped += 1
        output(f"amber: stopped the pool of {record.get('image')} (pid {record['pid']})\n")
    if not stopped and wanted is not None:
        raise AmberError(f"no pool of {wanted} is running (amber pool list shows them)")
    if not stopped:
        output("amber: no pool is running\n")
    return 0
