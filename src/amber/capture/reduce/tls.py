"""The saving side for ``ssl.SSLContext`` (and subclasses): what a context is made again from.

A context is written as the recipe ``make_ssl_context(class, protocol, calls, settings, path)``
(:mod:`amber.restore.tls`), plus its callbacks and ``__dict__`` as fills:

* the *calls* that configured it during start-up, recorded as they happened
  (:mod:`amber.capture.recorders.tls`): the CA files, directories and data it loaded, whether it
  took the default verify paths, the certificate chains it loaded (by path), ciphers, ALPN
  protocols, ECDH curve, DH parameters;
* the *settings* read from it at the snapshot point: ``options``, ``verify_mode``,
  ``check_hostname``, ``verify_flags``, ``minimum_version``, ``maximum_version``,
  ``post_handshake_auth``, the host-name flags (``hostname_checks_common_name``),
  ``num_tickets``, ``keylog_filename``, and ``security_level`` as a floor;
* the callbacks ``sni_callback`` and ``_msg_callback``.

Decisions:

* **Trust anchors loaded from a file or a directory are read again from it at restore**, as a cold
  run reads them (a rotated CA file is the new one; a missing file stops the restore with one
  line naming the context and the file). ``cadata`` given in memory is kept as given: it is public
  data. The default verify paths are those of the restoring machine, as for a cold run. Nothing
  is ever added that the original did not load: a context that loaded no CA certificates trusts
  none after restore.
* **Private keys are never written**: ``load_cert_chain`` is kept as its paths and made again by
  loading the files. A password given as a value would be written, so it is refused; an
  ``amber.secret`` (written as its variable's name) or a function that returns it is kept.
* **Fail closed**: before writing, a trial context is made from the recipe in this process and
  compared with the original on everything that can be read back: the settings, the ciphers, the
  CA certificates and the counts of the certificate store. The original may hold more CA
  certificates than the trial only when they are in a directory it loaded (a ``capath``, or the
  default directory): OpenSSL reads those lazily, on a lookup during a handshake. Any other
  difference means the context was configured in a way Amber did not see (a call on
  ``_ssl._SSLContext`` itself, ``ssl`` imported before start-up ran): it is refused with its
  path. After restore the same settings are checked again.
"""

from __future__ import annotations

import sys

from amber.capture.recorders import tls as recorder
from amber.capture.reduce.recipes import Call, CallOn, InstanceState, Offender, Recipe, reconstructor
from amber.errors import AmberError
from amber.restore import tls
from amber.secrecy import SecretStr

# Read at the snapshot point and set again at restore (in this order, see tls.apply_settings).
# The versions before the options: setting a minimum of SSLv3 clears OP_NO_SSLv3.
SETTINGS = ("minimum_version", "maximum_version", "options", "verify_flags", "_host_flags",
            "post_handshake_auth", "num_tickets", "security_level", "keylog_filename", "verify_mode",
            "check_hostname")
CALLBACKS = ("sni_callback", "_msg_callback")
# Calls that make OpenSSL look certificates up lazily in a directory (besides a capath).
_LAZY = ("set_default_verify_paths",)


def register(reducers) -> None:
    """Add the reducer for ``ssl.SSLContext`` to ``reducers.by_base`` (when ``ssl`` is loaded)."""
    ssl = sys.modules.get("ssl")
    cls = getattr(ssl, "SSLContext", None)
    if isinstance(cls, type):
        reducers.by_base.append((cls, lambda ctx, klass: reduce_ssl_context(ctx, klass,
                                                                            reducers.path_of(ctx))))


def reduce_ssl_context(ctx, cls, where: str):
    calls = recorder.calls_of(ctx)
    if calls is None:
        return Offender("an ssl.SSLContext made where Amber could not record how it was configured "
                        "(ssl was imported before start-up ran)",
                        "create it during start-up (not from a .pth file), or after restore")
    refused = _refuse_password(calls)
    if refused is not None:
        return refused
    protocol = int(ctx.protocol)
    settings = tuple((name, _plain(getattr(ctx, name))) for name in SETTINGS)
    differs = _trial_differs(ctx, cls, protocol, calls, settings, where)
    if differs is not None:
        return Offender(f"an ssl.SSLContext configured in a way Amber did not see ({differs})",
                        "configure it through ssl.SSLContext's own methods during start-up, or create it "
                        "after restore")
    # A password callback or a PSK callback runs (or may run) the program's code: late.
    late = any(callable(value) for _method, args, kwargs in calls
               for value in (*args, *(v for _k, v in kwargs)))
    r = Recipe(Call(reconstructor(tls.make_ssl_context), (cls, protocol, calls, settings, where)), late=late)
    callbacks = tuple((name, getattr(ctx, name)) for name in CALLBACKS
                      if getattr(ctx, name, None) is not None)
    if callbacks:
        r.fills.append(CallOn(reconstructor(tls.set_callbacks), (callbacks,)))
    attrs = list(object.__getattribute__(ctx, "__dict__").items())
    if attrs:
        r.fills.append(InstanceState(attrs, None))
    return r


def _plain(value):
    """Flags and enums as the ints they are (``ssl``'s enums are found again by value)."""
    return int(value) if isinstance(value, int) and type(value) not in (int, bool) else value


def _refuse_password(calls: tuple) -> Offender | None:
    for method, _args, kwargs in calls:
        if method != "load_cert_chain":
            continue
        password = dict(kwargs).get("password")
        if isinstance(password, (str, bytes)) and not isinstance(password, SecretStr):
            return Offender("an ssl.SSLContext whose private key's password was given as a value "
                            "(load_cert_chain(password=...)): it would be written into the image",
                            "pass password=amber.secret('VARIABLE') or a function that returns it, or load "
                            "the certificate chain after restore")
    return None


def _trial_differs(ctx, cls, protocol: int, calls: tuple, settings: tuple, where: str) -> str | None:
    """Make the context again here, as a restore would; what differs from the original, or None."""
    try:
        trial = tls.make_ssl_context(cls, protocol, calls, settings, where, trial=True)
    except AmberError as e:
        return str(e).split(": ", 1)[-1]
    if [c["name"] for c in trial.get_ciphers()] != [c["name"] for c in ctx.get_ciphers()]:
        return "its ciphers"
    mine, theirs = trial.get_ca_certs(binary_form=True), ctx.get_ca_certs(binary_form=True)
    extra = set(theirs) - set(mine)
    if not set(mine) <= set(theirs) or extra and not extra <= _directory_certs(_lazy_directories(calls)):
        return "its CA certificates"
    now, then = trial.cert_store_stats(), ctx.cert_store_stats()
    # Only CA certificates found in those directories may have been added since (counted above).
    if now.get("crl") != then.get("crl") or now.get("x509_ca", 0) + len(extra) != then.get("x509_ca", 0) \
            or now.get("x509", 0) + len(extra) != then.get("x509", 0):
        return "its certificate store"
    return None


def _lazy_directories(calls: tuple) -> list:
    """The directories OpenSSL looks certificates up in lazily, by subject hash: each ``capath``
    loaded, and the default directory when the default verify paths were set."""
    import ssl

    out = []
    for method, _args, kwargs in calls:
        if method == "load_verify_locations" and dict(kwargs).get("capath"):
            out.append(dict(kwargs)["capath"])
        elif method in _LAZY:
            out.append(ssl.get_default_verify_paths().capath)
    return [d for d in out if d]


def _directory_certs(directories: list) -> set:
    """The CA certificates (DER) in those directories: what lookups may have added to a context."""
    import os
    import ssl

    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    for directory in directories:
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            try:
                probe.load_verify_locations(cafile=entry.path)
            except (OSError, ValueError):
                continue
    return set(probe.get_ca_certs(binary_form=True))
