"""Reconstructors for ``ssl.SSLContext``: the loading side of :mod:`amber.capture.reduce.tls`.

The heap program calls these by name, so their names and signatures are part of the image
format. A context is made again as the program made it: a new context of the same class and
protocol (the C base's ``__new__``, never a subclass's), then the configuring calls recorded during
start-up, in their order, through the C base's own methods (so no method of the program's runs),
then the values read from the context at the snapshot point (``options``, ``verify_mode``,
``check_hostname``, ``verify_flags``, minimum and maximum versions, ...), through ``ssl``'s own
setters. Files are read again here: CA files and directories, certificate chains and their
private keys (never in the image), DH parameters, the default verify paths of this machine.

Fail closed: a file that cannot be read stops the restore with one line naming the context's
path and the file; so does a context that does not end up with the settings it had (a value this
OpenSSL refuses) or with a lower security level. Imports only the base set; ``ssl`` is loaded
already (the context's class is found in it).
"""

import posix

from amber.errors import AmberError

# What a message calls each recorded call's files.
_WHAT = {
    "load_cert_chain": "its certificate chain",
    "load_verify_locations": "its CA certificates",
    "load_dh_params": "its DH parameters",
    "set_default_verify_paths": "the default CA certificates",
}
_FILE_PARAMETERS = ("certfile", "keyfile", "cafile", "capath")
# Not made again by a trial at the snapshot (amber.capture.reduce.tls): they read nothing back,
# and a password callback is the program's code.
_NOT_IN_TRIAL = frozenset({"load_cert_chain", "set_psk_client_callback", "set_psk_server_callback"})


def make_ssl_context(cls, protocol: int, calls: tuple, settings: tuple, where: str, trial: bool = False):
    """An ``ssl.SSLContext`` (or subclass ``cls``) configured as recorded; ``where`` is its path in
    the snapshot's heap, for messages. ``trial``: the snapshot's own check (files the trial need
    not read are left alone)."""
    import _ssl
    import warnings

    with warnings.catch_warnings():
        # Deprecated protocols and options warned when the program used them; not again here.
        warnings.simplefilter("ignore")
        ctx = _ssl._SSLContext.__new__(cls, protocol)
        for method, args, kwargs in calls:
            if trial and method in _NOT_IN_TRIAL:
                continue
            try:
                getattr(_ssl._SSLContext, method)(ctx, *args, **dict(kwargs))
            except (OSError, ValueError) as e:
                raise AmberError(_load_failed(where, method, args, dict(kwargs), e)) from None
        apply_settings(ctx, settings, where, trial)
    return ctx


def apply_settings(ctx, settings: tuple, where: str, trial: bool = False) -> None:
    """Set the values read at the snapshot point; then check that each holds (fail closed)."""
    want = dict(settings)
    hostname = want.pop("check_hostname", None)
    mode = want.pop("verify_mode", None)
    level = want.pop("security_level", None)
    keylog = want.pop("keylog_filename", None)
    # check_hostname needs a verifying mode and turns CERT_NONE into CERT_REQUIRED: off first when
    # it is to be off, on last when it is to be on.
    if hostname is False:
        _set(ctx, "check_hostname", False)
    if mode is not None:
        _set(ctx, "verify_mode", mode)
    if hostname:
        _set(ctx, "check_hostname", True)
    for name, value in want.items():
        try:
            _set(ctx, name, value)
        except (ValueError, AttributeError, NotImplementedError) as e:
            raise AmberError(f"{where} (ssl.SSLContext): cannot set {name} to {value!r} here as the "
                             f"snapshot had it ({e})") from None
    if keylog is not None and not trial:
        try:
            _set(ctx, "keylog_filename", keylog)
        except OSError as e:
            raise AmberError(f"{where} (ssl.SSLContext): its keylog_filename {keylog} cannot be opened "
                             f"here ({e.strerror or e})") from None
    want.update(check_hostname=hostname, verify_mode=mode)
    _check(ctx, want, level, where)


def _check(ctx, want: dict, level, where: str) -> None:
    for name, value in want.items():
        if value is None:
            continue
        now = getattr(ctx, name)
        if now != value:
            raise AmberError(f"{where} (ssl.SSLContext): {name} is {now!r} here but was {value!r} at the "
                             f"snapshot; create the context after restore (in an amber.after_restore hook)")
    if level is not None and ctx.security_level < level:
        raise AmberError(f"{where} (ssl.SSLContext): this OpenSSL gives it security level "
                         f"{ctx.security_level}, lower than the snapshot's {level}; create the context "
                         "after restore (in an amber.after_restore hook)")


def _set(ctx, name: str, value) -> None:
    """Set through ``ssl``'s own descriptor (never a subclass's), only when it differs."""
    if getattr(ctx, name) == value:
        return
    import ssl

    for klass in ssl.SSLContext.__mro__:
        descriptor = klass.__dict__.get(name)
        if descriptor is not None:
            descriptor.__set__(ctx, value)
            return
    raise AttributeError(name)


def set_callbacks(ctx, pairs: tuple) -> None:
    """The callbacks the context had (``sni_callback``, ``_msg_callback``): heap objects, set once
    they exist."""
    for name, value in pairs:
        _set(ctx, name, value)


def _load_failed(where: str, method: str, args: tuple, kwargs: dict, error: Exception) -> str:
    files = [str(kwargs[p]) for p in _FILE_PARAMETERS if kwargs.get(p) is not None]
    if method == "load_dh_params":
        files += [str(a) for a in args]
    missing = [f for f in files if not _exists(f)]
    what = _WHAT.get(method, f"its {method}()")
    detail = getattr(error, "strerror", None) or str(error) or type(error).__name__
    if files:
        how = f"{' and '.join(missing)} is missing here" if missing else \
            f"it cannot be loaded here ({detail})"
        return (f"{where} (ssl.SSLContext): {what} is read again from {' and '.join(files)} at restore, and "
                f"{how}: put it back, or take the snapshot again (a private key is never written into an "
                f"image)")
    return f"{where} (ssl.SSLContext): {what} cannot be loaded here ({detail}); take the snapshot again"


def _exists(path: str) -> bool:
    try:
        posix.stat(path)
    except (OSError, ValueError):
        return False
    return True
