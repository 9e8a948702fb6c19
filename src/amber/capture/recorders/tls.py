"""How each ``ssl.SSLContext`` was configured during start-up, recorded as it happens.

Part of an SSL context cannot be read back from it: the certificate chain and key it loaded, the
ALPN protocols, the ECDH curve and DH parameters are write-only in OpenSSL, and a CA directory
(``capath``) or the default verify paths are looked up lazily, so ``get_ca_certs()`` does not
show them. So the calls that put them there are recorded while the program runs to its snapshot
point, and :mod:`amber.capture.reduce.tls` turns them, with what *can* be read back, into the
recipe that makes the context again at restore.

Design (decided here):

* When ``ssl`` is imported during start-up (or already is when the recorder starts), every method
  of the C base ``_ssl._SSLContext`` that changes a context (``load_verify_locations``,
  ``load_cert_chain``, ``set_default_verify_paths``, ``set_ciphers``, ``_set_alpn_protocols``,
  ``set_ecdh_curve``, ``load_dh_params``, the PSK callbacks, and any other callable of the C base
  that is not a reader) is shadowed on ``ssl.SSLContext`` by a recording wrapper. The Python-level
  methods (``load_default_certs``, ``set_alpn_protocols``, ``create_default_context``...) call
  them through ``self``, so they are recorded without adding a frame of Amber's to them (their
  warnings keep pointing at the program's line). :meth:`TLSRecorder.stop` removes the wrappers at
  the snapshot point: the class the program sees at capture and after restore is the one it had.
* A call is recorded after it succeeded, with its arguments: paths as strings (``os.fspath``),
  buffers as bytes; calls on contexts that no longer exist are forgotten (weak references).
* A context is known when ``ssl`` was imported after the recorder started: then every context
  was created under watch, and one with no recorded call was never changed that way. When ``ssl``
  was imported before (a ``.pth`` file), no context can be vouched for: :func:`calls_of` says so
  and the context is refused (fail closed).
* Nothing is read from files here; a private key never passes through Python: only its path is
  kept, and the key is loaded again from that file at restore.

Imported before the program runs: imports nothing the program did not ask for.
"""

import sys
from _weakref import ref

from amber.capture.recorders.entropy import _watch_imports

# Methods of the C base that only read a context or make sockets from it: not recorded.
READERS = frozenset({"cert_store_stats", "get_ca_certs", "get_ciphers", "session_stats", "_wrap_bio",
                     "_wrap_socket"})
# Parameter names of the recorded methods that take keywords, whose arguments the capture side
# reads (paths to name in messages, a password that must not be written): positional arguments
# are bound to them. The others take positional arguments only and are kept as given.
KEYWORDS = {
    "load_verify_locations": ("cafile", "capath", "cadata"),
    "load_cert_chain": ("certfile", "keyfile", "password"),
}

# id(context) -> (weak reference to it, [(method, args, kwargs pairs)]), in call order.
_calls: dict = {}
_state = {"watching": False, "blind": False}


def calls_of(ctx) -> "tuple | None":
    """The configuring calls made on ``ctx`` during start-up, in order, each ``(method, args,
    kwargs pairs)``; None when Amber could not watch it (``ssl`` was imported before the recorder
    started, or no recorder ran)."""
    if _state["blind"] or not _state["watching"]:
        return None
    entry = _calls.get(id(ctx))
    if entry is None or entry[0]() is not ctx:
        return ()
    return tuple(entry[1])


class TLSRecorder:
    """Shadows the configuring methods of ``ssl.SSLContext`` while start-up runs (see the module doc)."""

    def __init__(self) -> None:
        _state["blind"] = False
        _calls.clear()
        self._install(resumed=False)

    def resume(self) -> None:
        """Record again after :meth:`stop` (what was recorded stays; nothing of the program ran
        while it was stopped)."""
        self._install(resumed=True)

    def _install(self, resumed: bool) -> None:
        self._patched: list = []  # (class, name, original entry or None, wrapper)
        _state["watching"] = True
        ssl = sys.modules.get("ssl")
        if ssl is not None:
            if not resumed:
                _state["blind"] = True  # contexts may exist that nobody watched
            self._wrap(ssl)
            self._undo_imports = lambda: None
        else:
            self._undo_imports = _watch_imports(self._imported)

    def _imported(self, name: str) -> None:
        if name == "ssl" and not self._patched:
            ssl = sys.modules.get("ssl")
            if ssl is not None:
                self._wrap(ssl)

    def _wrap(self, ssl) -> None:
        cls = getattr(ssl, "SSLContext", None)
        base = getattr(sys.modules.get("_ssl"), "_SSLContext", None)
        if not isinstance(cls, type) or not isinstance(base, type) or not issubclass(cls, base):
            _state["blind"] = True
            return
        for name, method in vars(base).items():
            if name.startswith("__") or name in READERS or not _is_method(method):
                continue
            original = cls.__dict__.get(name)
            wrapper = _recording(name, getattr(cls, name))
            setattr(cls, name, wrapper)
            self._patched.append((cls, name, original, wrapper))

    def stop(self) -> None:
        """Put ``ssl.SSLContext`` back exactly as it was (at the snapshot point)."""
        for cls, name, original, wrapper in reversed(self._patched):
            if cls.__dict__.get(name) is not wrapper:
                continue  # the program replaced it: its own choice stays
            if original is None:
                delattr(cls, name)
            else:
                setattr(cls, name, original)
        self._patched = []
        self._undo_imports()  # what was recorded stays readable for the capture


_METHOD_DESCRIPTOR = type(str.__dict__["join"])


def _is_method(value) -> bool:
    return type(value) is _METHOD_DESCRIPTOR


def _recording(name: str, original):
    params = KEYWORDS.get(name)

    def recording(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        _record(self, name, params, args, kwargs)
        return result

    recording.__name__ = name
    recording.__qualname__ = f"SSLContext.{name}"
    recording.__doc__ = getattr(original, "__doc__", None)
    return recording


def _record(ctx, name: str, params, args: tuple, kwargs: dict) -> None:
    if params is not None and len(args) <= len(params):
        pairs = dict(zip(params, args, strict=False))
        pairs.update(kwargs)
        args, kwargs = (), pairs
    call = (name, tuple(_plain(a) for a in args),
            tuple((k, _plain(v)) for k, v in kwargs.items() if v is not None))
    key = id(ctx)
    entry = _calls.get(key)
    if entry is None or entry[0]() is not ctx:
        calls: list = []
        entry = _calls[key] = (ref(ctx, _forgetter(key)), calls)
    entry[1].append(call)


def _forgetter(key: int):
    def forget(dead) -> None:
        entry = _calls.get(key)
        if entry is not None and entry[0] is dead:
            del _calls[key]
    return forget


def _plain(value):
    """Paths as the strings (or bytes) they name, buffers as bytes; anything else as given (a
    password callback, an ``amber.secret``)."""
    fspath = getattr(type(value), "__fspath__", None)
    if fspath is not None and not isinstance(value, (str, bytes)):
        return fspath(value)
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    return value
