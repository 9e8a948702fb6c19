"""Ask a fresh interpreter what importing the by-reference modules again will do.

Modules held by reference are imported again at restore, and whatever those imports pull in is
imported again too: it must not also be captured by value, or the restored process would hold
two copies of it (``typing``, ``dataclasses``, ``stringprep`` beside ``encodings.idna``). Rather
than guess, Amber asks: a child interpreter started exactly as a restore starts (``python -I -S``
with Amber's restore path loaded, the snapshot's ``sys.path`` and environment) imports what it
is told, in order, and answers. It is one conversation, so that the world's rules can ask again
about what an answer added (:class:`amber.capture.world.rules.World` asks until nothing new is
to be imported), and the child's state accumulates as a restore's would:

* ``("import", names)``: for each name, the modules its import added to ``sys.modules`` and the
  error it raised, if any;
* ``("describe", names, members)``: fingerprints of those modules' namespaces and of the named
  classes' and functions' namespaces, as the fresh imports left them, so that the snapshotting
  side can tell which state the program changed after import (that state would be lost when the
  module is imported again; see :mod:`amber.capture.world.rules`).

**The protocol** runs over two pipes of its own (their descriptors are the child's arguments),
never over the standard streams: a module that prints, reads standard input or replaces
``sys.stdout`` while it is imported cannot disturb it. Each message is a length and a marshal
blob; the child answers each module on its own, so that when the child dies (a crash in an
extension, ``os._exit`` in a module body) or stops answering (an import that never returns), the
parent knows which module did it and says so in one line (:class:`ProbeError`). Every string the
child sends is an exact ``str``; a value marshal cannot write is described by its type. The child
leaves by ``os._exit``: the imported modules' atexit handlers and finalizers never run.
"""

import marshal
import sys

from amber.capture.world.fingerprint import exact_str, member_fingerprint, namespace_fingerprint, resolve
from amber.errors import CaptureError
from amber.restore.loader import start_up_again

# Imported in the probe child too, which must hold nothing beyond the base set and this: no
# typing at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_HEADER = 8  # bytes of the length in front of each message
# Seconds the parent waits for the child's next answer (one module's import) before giving up.
DEFAULT_TIMEOUT = 300.0


class ProbeError(CaptureError):
    """The probe could not answer about a module; the message names it and what to do."""


# == the child ====================================================================================

def child_main(args: list) -> None:
    """In the child (``_boot.py probe READ_FD WRITE_FD``): answer requests until told to leave."""
    import posix

    read_fd, write_fd = int(args[0]), int(args[1])
    dumps, loads, write, read, leave = marshal.dumps, marshal.loads, posix.write, posix.read, posix._exit

    def send(message) -> None:
        data = dumps(message)
        data = len(data).to_bytes(_HEADER, "little") + data
        while data:
            data = data[write(write_fd, data):]

    def receive():
        head = _read_exactly(read, read_fd, _HEADER)
        return loads(_read_exactly(read, read_fd, int.from_bytes(head, "little")))

    while True:
        try:
            request = receive()
        except EOFError:  # the snapshotting side is gone
            leave(0)
        if request[0] == "import":
            sys.path[:] = request[2]
            for name in request[1]:
                send(("imported", name, *_import_one(name)))
            send(("done",))
        elif request[0] == "describe":
            members = request[2]
            for name in request[1]:
                send(_describe_one(name, members.get(name, ()), dumps))
            send(("done",))
        else:
            leave(0)


def _read_exactly(read, fd: int, count: int) -> bytes:
    chunks, left = [], count
    while left:
        chunk = read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _import_one(name: str) -> tuple:
    """(names the import added to sys.modules, its error or None)."""
    before = set(sys.modules)
    error = None
    if name not in sys.modules:
        try:
            __import__(name)
            start_up_again(name)  # as a restore does (site's builtins)
        except BaseException as e:  # noqa: BLE001 - any failure is reported, not raised
            error = _describe_exception(e)
    added = [exact_str(n) for n in list(sys.modules) if isinstance(n, str) and n not in before]
    return added, error


def _describe_exception(e: BaseException) -> str:
    try:
        text = str(e)
    except BaseException:  # noqa: BLE001 - an exception whose __str__ raises
        text = "(no description)"
    text = " ".join(text.split())  # one line
    return f"{type(e).__name__}: {text[:500]}"


def _describe_one(name: str, member_names, dumps) -> tuple:
    """("described", name, module fingerprint, {member: fingerprint}), marshal-able: a value
    marshal cannot write is described by its type."""
    mod = sys.modules.get(name)
    if mod is None:
        return ("described", name, {}, {})
    namespace = namespace_fingerprint(mod)
    members = {}
    for member in member_names:
        # (a member's name, or the path of an instance the module owns)
        obj = resolve(mod, member) if isinstance(member, str) else None
        if obj is not None:
            members[member] = member_fingerprint(obj)
    message = ("described", name, namespace, members)
    try:
        dumps(message)
        return message
    except ValueError:
        return ("described", name, _marshalable(namespace, dumps),
                {m: _marshalable(fps, dumps) for m, fps in members.items()})


def _marshalable(fingerprints: dict, dumps) -> dict:
    out = {}
    for attr, fp in fingerprints.items():
        try:
            dumps(fp)
        except ValueError:
            fp = ("o", "(not marshalable)")
        out[exact_str(attr)] = fp
    return out


# == the parent ===================================================================================

class FreshImportProbe:
    """The snapshotting side of the conversation (a context manager: the child ends with it).

    ``probe(names)`` answers ``{"loaded": {name: [added...]}, "failed": {name: why}}``;
    ``probe.describe(names, members)`` answers ``{"modules": {name: fingerprint},
    "members": {name: {member: fingerprint}}}``. The child starts on the first request and
    inherits this process's environment as the program left it, as a restore will."""

    def __init__(self, path: list, boot: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        # (entries the import system takes: str and bytes; it skips the rest, and so does the child)
        self.path = [exact_str(p) if isinstance(p, str) else bytes(p)
                     for p in path if isinstance(p, (str, bytes))]
        self.boot = boot
        self.timeout = timeout
        self._proc: Any = None  # the child (subprocess.Popen)
        self._to_child = self._from_child = -1
        self._errors = -1  # the read end of the child's standard error (a pipe)
        self._stderr_tail = b""  # the last of what the child wrote there
        self._errors_open = True

    def __enter__(self) -> "FreshImportProbe":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __call__(self, names: list) -> dict:
        names = list(names)
        self._send(("import", names, self.path))
        loaded: dict = {}
        failed: dict = {}
        for name in names:
            reply = self._receive(name, "importing")
            loaded[name] = list(reply[2])
            if reply[3] is not None:
                failed[name] = reply[3]
        self._receive(names[-1] if names else "", "importing")
        return {"loaded": loaded, "failed": failed}

    def describe(self, names: list, members: dict) -> dict:
        names = list(names)
        self._send(("describe", names, {n: list(m) for n, m in members.items()}))
        modules: dict = {}
        found: dict = {}
        for name in names:
            reply = self._receive(name, "describing the fresh state of")
            modules[name] = reply[2]
            if reply[3]:
                found[name] = reply[3]
        self._receive(names[-1] if names else "", "describing the fresh state of")
        return {"modules": modules, "members": found}

    def close(self) -> None:
        import os

        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            self._send_raw(marshal.dumps(("exit",)))
        except OSError:
            pass
        for fd in (self._to_child, self._from_child, self._errors):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            proc.wait(timeout=10)
        except Exception:
            proc.kill()
            proc.wait()

    # -- the pipes ---------------------------------------------------------------------------
    def _start(self) -> None:
        # Pipes, not temporary files: tempfile's names come from a generator the program's
        # tempfile module keeps, which the capture must not advance.
        import os
        import subprocess

        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        errors_r, errors_w = os.pipe()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-S", self.boot, "probe", str(to_child_r), str(from_child_w)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors_w,
                pass_fds=(to_child_r, from_child_w), env=dict(os.environ))
        finally:
            for fd in (to_child_r, from_child_w, errors_w):
                os.close(fd)
        self._to_child, self._from_child, self._errors = to_child_w, from_child_r, errors_r

    def _send(self, message) -> None:
        if self._proc is None:
            self._start()
        try:
            self._send_raw(marshal.dumps(message))
        except OSError:  # the child is gone already: the next receive says why
            pass

    def _send_raw(self, data: bytes) -> None:
        import os

        data = len(data).to_bytes(_HEADER, "little") + data
        while data:
            data = data[os.write(self._to_child, data):]

    def _receive(self, name: str, doing: str):
        head = self._read(_HEADER, name, doing)
        return marshal.loads(self._read(int.from_bytes(head, "little"), name, doing))

    def _read(self, count: int, name: str, doing: str) -> bytes:
        import os
        import select

        chunks, left = [], count
        while left:
            watched = [self._from_child, self._errors] if self._errors_open else [self._from_child]
            ready, _, _ = select.select(watched, [], [], self.timeout)
            if not ready:
                raise self._failure(name, doing, f"it did not finish within {self.timeout:g} s")
            if self._errors in ready:  # what the imports write to stderr: the last of it is kept
                self._keep_errors(os.read(self._errors, 1 << 16))
                if self._from_child not in ready:
                    continue
            chunk = os.read(self._from_child, min(left, 1 << 20))
            if not chunk:
                raise self._failure(name, doing, None)
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _failure(self, name: str, doing: str, why: "str | None") -> ProbeError:
        """One line naming the module, what happened to the child, and what to do."""
        proc = self._proc
        if why is None:
            try:
                code = proc.wait(timeout=10) if proc is not None else None
            except Exception:
                code = None
            if code is None:
                why = "the fresh interpreter stopped answering"
            elif code < 0:
                import signal

                try:
                    why = f"the fresh interpreter was killed by {signal.Signals(-code).name}"
                except ValueError:
                    why = f"the fresh interpreter was killed by signal {-code}"
            else:
                why = f"the fresh interpreter exited with code {code}"
            tail = self._error_tail()
            if tail:
                why += f" ({tail})"
        if proc is not None:
            proc.kill()
        self.close()
        return ProbeError(
            f"{doing} {name} again in a fresh interpreter, as every restore will, failed: {why}; no "
            f"image was written (hint: {name} must import in a fresh `python -I -S` with the snapshot's "
            f"sys.path and environment; else import it after the snapshot point)")

    def _keep_errors(self, data: bytes) -> None:
        if data:
            self._stderr_tail = (self._stderr_tail + data)[-4096:]
        else:  # closed: the child is gone, or closed its stderr
            self._errors_open = False

    def _error_tail(self) -> str:
        import os
        import select

        try:  # what the child wrote before it died
            while self._errors_open and select.select([self._errors], [], [], 0)[0]:
                self._keep_errors(os.read(self._errors, 1 << 16))
        except OSError:
            pass
        lines = self._stderr_tail.decode("utf-8", "replace").strip().splitlines()
        return lines[-1].strip()[:300] if lines else ""
