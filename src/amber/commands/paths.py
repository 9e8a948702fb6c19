"""Checks of the paths the commands write, made before the work starts (before a program's
start-up runs, before a key is made), each failure one :class:`~amber.errors.AmberError` line.

* :func:`check_output` (``amber snapshot -o IMAGE``): not empty, not a directory, not the script,
  not a file that is not an image, in a directory that exists and that this user can write to,
  tested for real by creating (exclusively, under an unpredictable name) and removing a file there:
  permission bits say nothing for root, and nothing of a read-only mount;
* :func:`key_home`, :func:`check_key_home`, :func:`check_signing_key` (``amber keygen``, ``amber
  trust``, ``amber snapshot``): the directory the keys are in is named by this user's environment
  (no fallback to /tmp), is this user's, and no other user can change what is in it; the signing
  key can be read or made.

Imports only ``os`` (already loaded by ``amber snapshot``'s quick path).
"""

import os

from amber.errors import AmberError, UsageError, describe_os_error

__all__ = ["check_output", "probe_writable", "key_home", "key_path", "check_key_home", "check_signing_key"]

IMAGE_MAGIC = b"\x89AMB\r\n\x1a\n"  # amber.image.format.MAGIC (a test checks they agree)


def probe_writable(directory: str, stem: str = "") -> "str | None":
    """Why no file can be created in ``directory`` (None if one can): a file is created there
    exclusively (``O_EXCL|O_NOFOLLOW``, an unpredictable name, as long as ``stem`` plus a temporary
    suffix, so a name too long shows too) and removed at once."""
    name = f".{stem}.{os.urandom(8).hex()}.amber-probe"
    path = os.path.join(directory, name)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError as e:
        return e.strerror or str(e)
    os.close(fd)
    try:
        os.unlink(path)
    except OSError:  # pragma: no cover - created a moment ago in a directory this process may write
        pass
    return None


def check_output(output: str, script: "str | None") -> str:
    """The absolute path of the image to write, or a :class:`~amber.errors.UsageError` saying why
    ``output`` cannot be one; ``script`` is the program's file (None for ``-m MODULE``, whose file
    is protected by the rule that only an image is replaced)."""
    if output == "":
        raise UsageError("-o needs a file name, not an empty string; see 'amber snapshot --help'")
    path = os.path.abspath(output)
    if output.endswith(os.sep) or os.path.isdir(path):
        raise UsageError(f"cannot write {output}: it is a directory (name the image file, e.g. "
                         f"{os.path.join(output, 'app.amber')})")
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        what = "not a directory" if os.path.exists(directory) else "no such directory"
        raise UsageError(f"cannot write {output}: {what} {directory}")
    if script is not None and _same_file(path, script):
        raise UsageError(f"cannot write {output}: it is the script itself (-o names the image to write)")
    if os.path.lexists(path):
        _check_replaceable(output, path)
    why = probe_writable(directory, os.path.basename(path))
    if why is not None:
        raise UsageError(f"cannot write {output}: cannot create a file in {directory} ({why})")
    return path


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def _check_replaceable(output: str, path: str) -> None:
    """An existing ``path`` is replaced only if it is an Amber image (or empty): never a source
    file, a device or anything else a typo names."""
    try:
        if os.path.islink(path):
            return  # the writer replaces the link itself, never what it points to
        st = os.stat(path)
        import stat

        if not stat.S_ISREG(st.st_mode):
            raise UsageError(f"cannot write {output}: it is not a regular file (-o names the image to write)")
        if st.st_size == 0:
            return
        with open(path, "rb") as f:
            head = f.read(256 + len(IMAGE_MAGIC))  # an image may start with a launch line (#!...)
    except OSError as e:
        raise UsageError(f"cannot write {output}: {e.strerror}") from None
    if head.startswith(b"#!"):  # (amber.image.format.launch_length, without importing the format)
        end = head.find(b"\n", 0, 256)
        head = head[end + 1:] if end >= 0 else b""
    if not head.startswith(IMAGE_MAGIC):
        raise UsageError(f"cannot write {output}: it exists and is not an Amber image (amber snapshot "
                         f"replaces only images; remove it first, or choose another -o)")


def check_key_home(directory: str) -> None:
    """``directory`` (where Amber keeps keys, made if missing) is this user's and not writable
    by others, nor is any directory above it that another user could use to swap it (each is this
    user's or root's, and writable by others only if sticky, as /tmp is)."""
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError as e:
        where = "" if e.filename in (None, directory) else f" ({e.filename})"
        raise AmberError(f"cannot create the key directory {directory}: {e.strerror}{where}") from None
    me = os.geteuid() if hasattr(os, "geteuid") else 0
    path = os.path.abspath(directory)
    st = os.stat(path)
    if st.st_uid != me or st.st_mode & 0o022:
        raise AmberError(f"the key directory {path} is not private (owned by uid {st.st_uid}, mode "
                         f"{st.st_mode & 0o777:04o}; it must be yours and writable only by you)")
    parent = os.path.dirname(path)
    while True:
        st = os.stat(parent)
        if st.st_uid not in (me, 0):
            raise AmberError(f"the key directory {path} is inside {parent}, which belongs to uid "
                             f"{st.st_uid}: that user can replace the keys")
        # Sticky (/tmp): others cannot rename what they do not own, and what is below is checked.
        if st.st_mode & 0o022 and not st.st_mode & 0o1000:
            raise AmberError(f"the key directory {path} is inside {parent}, which other users can "
                             f"write to: they can replace the keys")
        if parent == os.path.dirname(parent):
            return
        parent = os.path.dirname(parent)


def key_home() -> str:
    """Where this user's keys are (:func:`amber.image.signing.config_dir`), if the environment
    says where this user's configuration is: never a world-writable fallback such as /tmp."""
    from amber.image import signing

    if not (os.environ.get("XDG_CONFIG_HOME") or os.environ.get("HOME")):
        raise AmberError("neither HOME nor XDG_CONFIG_HOME is set: Amber keeps its keys in this user's "
                         "configuration directory and will not fall back to a shared one (set HOME, or "
                         "AMBER_KEY)")
    return key_path(signing.config_dir)


def key_path(where) -> str:
    """``where()`` (a path function of :mod:`amber.image.signing`), or one line if the variables it
    reads do not decode (signing decodes them as UTF-8)."""
    try:
        return where()
    except UnicodeDecodeError:
        raise AmberError("HOME, XDG_CONFIG_HOME or AMBER_KEY_FILE is not valid UTF-8: Amber cannot name "
                         "its key directory (set them to a path that is, or set AMBER_KEY)") from None


def check_signing_key() -> None:
    """Before a snapshot's start-up runs: the key its image will be signed with can be read, or
    made where it belongs (the snapshot makes it after start-up)."""
    from amber.image import signing

    if os.environ.get("AMBER_KEY"):
        return
    if "AMBER_KEY_FILE" not in os.environ:
        check_key_home(key_home())
    if os.path.exists(key_path(signing.private_key_path)):
        return  # an Ed25519 key: the snapshot reads it, and says so if it cannot
    path = key_path(signing.key_file)
    if os.path.isfile(path):
        try:
            with open(path, "rb"):
                return
        except OSError as e:
            raise AmberError(f"cannot read the signing key {describe_os_error(e)}") from None
    if os.path.lexists(path):
        raise AmberError(f"the signing key {path} is not a file (AMBER_KEY_FILE or the key directory "
                         f"names something else)")
    if "AMBER_KEY_FILE" not in os.environ:
        return  # in the key directory, checked above
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise AmberError(f"cannot make the signing key {path}: no such directory {directory}")
    why = probe_writable(directory, os.path.basename(path))
    if why is not None:
        raise AmberError(f"cannot make the signing key {path}: cannot create a file in {directory} ({why})")
