"""What crosses a pool's socket, declared once: one request from the caller, lines back.

**The request** (caller -> the forked instance, which reads it; the parent never parses it, so
a damaged request can only end the one instance it was for): :data:`MAGIC`, a 4-byte length,
then the :class:`Request`'s fields in :data:`Request.__slots__` order, each a 4-byte length and
its bytes (a list: its count, then its items; a number: decimal digits). The caller's standard
streams travel with the first bytes as ``SCM_RIGHTS`` descriptors, those of fds 0, 1, 2 that
are open (``Request.streams`` says which), then ``Request.extra`` more (a multiprocessing
worker's pipe and resource tracker, ``Request.mode`` ``worker``).

**The replies** (one line each, ASCII): ``P<pid>`` the instance took the request on and is about
to run the program (the caller forwards its signals there from now on); ``X<code>`` it exited
with that code; ``K<signal>`` a signal killed it; ``E<why>`` the request was not served (the
caller restores the image itself: ``busy``, ``stale`` and ``declined``, what a
``--fresh-process`` pool does not serve, are ordinary; anything else is said in one warning
line). ``P`` and ``E`` come from the instance or the parent, ``X``/``K`` from the parent, which
reaps it.

On the restore path (the client): imports only the base set.
"""

MAGIC = b"AMBER-POOL-1\n"
MAX_REQUEST = 64 << 20  # arguments and environment: far above what exec accepts
BUSY, STALE, DECLINED = "busy", "stale", "declined"
MAIN, WORKER = "main", "worker"


class Request:
    """Everything about the caller an instance takes on (see :mod:`amber.pool.instance`)."""

    __slots__ = ("identity", "argv0", "args", "orig_argv", "environ", "cwd", "umask", "ignored_signals",
                 "limits", "print_output", "streams", "stdio", "mode", "extra")

    identity: str  # the image file's identity as the caller saw it (amber.pool.paths.identity)
    argv0: "str | None"  # sys.argv[0] as amber run spells the script; None: the snapshot's
    args: list  # the program's arguments (sys.argv[1:])
    orig_argv: list  # the caller's sys.orig_argv: the restoring command's, as a restore has it
    environ: list  # [(name, value), ...] as bytes: the caller's whole environment
    cwd: bytes
    umask: int
    ignored_signals: list  # signals the caller ignores (nohup's SIGHUP): inherited across exec
    limits: list  # [(resource, soft, hard), ...]
    print_output: bool  # amber run: print what start-up printed first
    streams: int  # bit n set: the caller's fd n (0, 1, 2) is sent
    stdio: list  # per sys.stdin/stdout/stderr of the caller: (encoding, errors, line_buffering,
    # write_through) as its interpreter made them for its environment and descriptors, or None
    mode: str  # MAIN: resume __main__; WORKER: serve as a multiprocessing worker (amber.restore.worker)
    extra: int  # descriptors sent after the streams (WORKER: its pipe, then its tracker's, if any)

    def __init__(self, **values: object) -> None:
        for name in self.__slots__:
            setattr(self, name, values[name])


def encode(request: Request) -> bytes:
    items: list = []
    put = items.append
    put(request.identity.encode())
    put(b"\x00" if request.argv0 is None else b"\x01" + request.argv0.encode("utf-8", "surrogateescape"))
    _list(items, [a.encode("utf-8", "surrogateescape") for a in request.args])
    _list(items, [a.encode("utf-8", "surrogateescape") for a in request.orig_argv])
    _list(items, [b"%s=%s" % (k, v) for k, v in request.environ])
    put(request.cwd)
    put(b"%d" % request.umask)
    _list(items, [b"%d" % s for s in request.ignored_signals])
    _list(items, [b"%d %d %d" % limit for limit in request.limits])
    put(b"1" if request.print_output else b"0")
    put(b"%d" % request.streams)
    _list(items, [b"" if s is None else "\0".join((s[0], s[1], str(int(s[2])), str(int(s[3])))).encode()
                  for s in request.stdio])
    put(request.mode.encode("ascii"))
    put(b"%d" % request.extra)
    body = b"".join(len(item).to_bytes(4, "big") + item for item in items)
    return MAGIC + len(body).to_bytes(4, "big") + body


def _list(items: list, values: list) -> None:
    items.append(b"%d" % len(values))
    items.extend(values)


def body_length(head: bytes) -> int:
    """The body's length from the first ``len(MAGIC) + 4`` bytes; ValueError if they are not
    a request's."""
    if len(head) != len(MAGIC) + 4 or not head.startswith(MAGIC):
        raise ValueError("not a pool request")
    n = int.from_bytes(head[len(MAGIC):], "big")
    if n > MAX_REQUEST:
        raise ValueError("request too large")
    return n


def decode(body: bytes) -> Request:
    """The request ``encode`` wrote; ValueError for anything else."""
    reader = _Reader(body)
    take = reader.take
    identity = take().decode("ascii")
    argv0_raw = take()
    if argv0_raw[:1] not in (b"\x00", b"\x01"):
        raise ValueError("bad argv0")
    argv0 = None if argv0_raw[:1] == b"\x00" else argv0_raw[1:].decode("utf-8", "surrogateescape")
    args = [a.decode("utf-8", "surrogateescape") for a in reader.many()]
    orig_argv = [a.decode("utf-8", "surrogateescape") for a in reader.many()]
    environ = []
    for pair in reader.many():
        name, sep, value = pair.partition(b"=")
        if not sep or not name:
            raise ValueError("bad environment entry")
        environ.append((name, value))
    cwd = take()
    umask = int(take())
    ignored = [int(s) for s in reader.many()]
    limits = []
    for raw in reader.many():
        resource, soft, hard = (int(x) for x in raw.split(b" "))
        limits.append((resource, soft, hard))
    print_output = take() == b"1"
    streams = int(take())
    stdio: list = []
    for raw in reader.many():
        if not raw:
            stdio.append(None)
            continue
        encoding, errors, line_buffering, write_through = raw.decode("ascii").split("\0")
        stdio.append((encoding, errors, line_buffering == "1", write_through == "1"))
    mode = take().decode("ascii")
    extra = int(take())
    if (not reader.done() or not 0 <= umask <= 0o777 or not 0 <= streams <= 7 or mode not in (MAIN, WORKER)
            or not 0 <= extra <= 2 or len(stdio) != 3):
        raise ValueError("bad request")
    return Request(identity=identity, argv0=argv0, args=args, orig_argv=orig_argv, environ=environ, cwd=cwd,
                   umask=umask, ignored_signals=ignored, limits=limits, print_output=print_output,
                   streams=streams, stdio=stdio, mode=mode, extra=extra)


class _Reader:
    __slots__ = ("data", "at")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self) -> bytes:
        at = self.at
        if at + 4 > len(self.data):
            raise ValueError("request cut short")
        n = int.from_bytes(self.data[at:at + 4], "big")
        end = at + 4 + n
        if end > len(self.data):
            raise ValueError("request cut short")
        self.at = end
        return self.data[at + 4:end]

    def many(self) -> list:
        count = int(self.take())
        if count < 0 or count > len(self.data):
            raise ValueError("bad count")
        return [self.take() for _ in range(count)]

    def done(self) -> bool:
        return self.at == len(self.data)


def reply(kind: str, value: object) -> bytes:
    return f"{kind}{value}\n".encode("ascii", "replace")
