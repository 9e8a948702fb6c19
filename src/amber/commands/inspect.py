"""``amber inspect``: what an image holds, for people and for tools, and a decoder of its parts.

* ``amber inspect IMAGE [--json]``: a summary (``describe``, ``render``);
* ``--sections``: the section table, every digest checked (``sections_table``);
* ``--dis NAME``: a section, or ``header``, decoded field by field from the schemas of
  :mod:`amber.image.format`; the heap by the standard library's ``pickletools`` (``disassemble``);
* ``--extract NAME``: a section's verified bytes, to stdout (``extract``): ``amber inspect IMAGE
  --extract heap > heap.pickle && python -m pickletools heap.pickle``.

Every digest is checked before anything is shown (as a restore would, and for the mapped sections
too); a damaged or hand-made image is an ImageError, one ``amber: error:`` line.
"""

from __future__ import annotations

import argparse
import json
import marshal
import os
import sys
import time
from types import CodeType
from typing import BinaryIO, TextIO, cast

from amber.errors import AmberError, ImageError, Output, OutputError, UsageError, output
from amber.image import explain, records
from amber.image import format as fmt
from amber.image.schema import Record

HEADER = "header"  # --dis/--extract: the header, beside the sections
USAGE = ("%(prog)s [--json] [--insecure] IMAGE",
         "%(prog)s [--insecure] (--sections | --dis NAME | --extract NAME) IMAGE",
         "%(prog)s --base-set")
PROG = "amber inspect"


def open_image(path: str, insecure: bool = False) -> fmt.Image:
    """The image, verified, whichever interpreter made it (inspect shows images of any), its
    whole header checked (a restore checks only the fields it reads)."""
    return fmt.read_image(path, check_interpreter=False, insecure=insecure,
                          header_schema=records.HEADER_SCHEMA)


def describe(path: str, insecure: bool = False) -> dict:
    image = open_image(path, insecure)
    h = image.header
    for name, *_ in h["sections"]:
        image.verified(name)  # inspect vouches for the whole file: every digest is checked (once)
    buffers = image.buffers()
    stats = image.decode(fmt.STATS, records.STATS_SCHEMA)
    inputs = image.decode(fmt.INPUTS) if image.has_section(fmt.INPUTS) else None
    heap = image.entry(fmt.HEAP)[2]
    launch = image.launch.decode("utf-8", "replace").rstrip("\n") or None
    image.close()
    by_value = stats["modules_by_value"]
    by_ref = stats["modules_by_ref"]
    total = len(by_value) + len(by_ref)
    sections = {name: length for name, _off, length, _dig in h["sections"]}
    return {
        "image": path,
        "amber": h["amber"],
        "format": h["format"],
        "created": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(h["created"])),
        "python": {k: (v.hex() if isinstance(v, bytes) else v) for k, v in h["python"].items()},
        "signed_by": h.get("key_id"),
        "launch_line": launch,
        "snapshot_point": h["snapshot_point"],
        "sections": sections,
        "mapped_buffers": {"count": len(buffers), "bytes": sum(b.nbytes for b in buffers)},
        "objects": stats["objects"],
        "modules": {"by_value": by_value, "by_reference": by_ref,
                    "share_by_value": round(len(by_value) / total, 4) if total else 0.0},
        "by_type": dict(sorted(((k, {"count": c, "bytes": b}) for k, (c, b) in stats["by_type"].items()),
                               key=lambda kv: -kv[1]["bytes"])),
        "by_module": dict(sorted(((k, {"count": c, "bytes": b}) for k, (c, b) in stats["by_module"].items()),
                                 key=lambda kv: -kv[1]["bytes"])),
        "largest": [{"path": p, "type": t, "bytes": b} for p, t, b in stats["largest"]],
        "extensions": [{"module": n, "file": f, "size": s} for n, f, s, _m in h["extensions"]],
        "environ_changed": stats["environ_changed"],
        "replayed": stats.get("replayed", []),
        "hash_memos_kept": stats.get("hash_memos_kept", []),
        "startup_seconds": stats["startup_seconds"],
        "run": h.get("run"),
        "inputs": None if inputs is None else {
            "files": _watched(inputs, fmt.WATCH_CONTENT),
            "absent_files": [row[0] for row in inputs["watched"] if not row[2]],
            "existence_checked": _watched(inputs, fmt.WATCH_KIND),
            "directories_listed": _watched(inputs, fmt.WATCH_LISTING),
            "directories_searched_by_imports": _watched(inputs, fmt.WATCH_SEARCHED),
            "working_directory": inputs["cwd"],
            "environment_variables": [name for name, _digest in inputs["env"]],
            "iterated_environment": inputs["env_names"] is not None,
        },
        "capture_seconds": stats["capture_seconds"],
        "timings": None if inputs is None else _timings(path, inputs, heap),
    }


def _timings(path: str, inputs: dict, heap: bytes) -> dict:
    """An amber run image's cold start and the restores measured so far, and the choice they make
    (:mod:`amber.runcache.timings`). The record is read with the key of the cache the image is in."""
    from amber.runcache import keys, timings

    root = os.path.dirname(os.path.dirname(os.path.abspath(path)))
    samples = timings.restores(path, keys.secret_key(root), heap)
    cold = inputs.get("cold_seconds")
    choice = ("measuring" if cold is None or len(samples) < timings.SAMPLES
              else "cold" if timings.cold_is_faster(cold, samples) else "restore")
    return {"cold_seconds": cold, "restore_seconds": samples, "choice": choice}


def _watched(inputs: dict, how: int) -> list:
    return [path for path, kind, _stamp, _names in inputs["watched"] if kind == how]


def render(d: dict, top: int = 12) -> str:
    p = d["python"]
    sp = d["snapshot_point"]
    where = {"call": "amber.snapshot() at line", "main-guard": 'if __name__ == "__main__": at line',
             "end": "end of script, line",
             "stack": "amber.snapshot() inside functions; the script waits at line"}[sp["kind"]]
    lines = [
        f"image        {d['image']}  ({sum(d['sections'].values()) / 1e6:.2f} MB in sections)",
        f"made by      Amber {d['amber']} (format {d['format']}) on {d['created']}",
        f"interpreter  {p['implementation']} {p['version'].split()[0]} ({p['platform']}, {p['cache_tag']}) "
        f"{p['executable']}",
        f"snapshot at  {sp['module'] or sp['script']}: {where} {sp['line']}",
        *(f"  {'in' if i == 0 else 'called by'} {frame}" for i, frame in enumerate(sp.get("frames", ()))),
        "runs as      " + (f"./{os.path.basename(d['image'])} [ARGS...] (its launch line: {d['launch_line']})"
                           if d["launch_line"] else f"amber restore {d['image']} [ARGS...] (no launch line)"),
        f"start-up     {d['startup_seconds'] * 1000:.0f} ms ran before the snapshot; capture took "
        f"{d['capture_seconds'] * 1000:.0f} ms",
        f"objects      {d['objects']:,}",
        f"buffers      {d['mapped_buffers']['count']} large buffer(s), "
        f"{d['mapped_buffers']['bytes'] / 1e6:.2f} MB, page-aligned and mapped at restore",
        f"modules      {len(d['modules']['by_value'])} captured by value, "
        f"{len(d['modules']['by_reference'])} imported again "
        f"({d['modules']['share_by_value']:.0%} by value)",
        "",
        "imported again at restore (and why):",
    ]
    reasons: dict = {}
    for name, why in d["modules"]["by_reference"].items():
        reasons.setdefault(why, []).append(name)
    for why, names in sorted(reasons.items(), key=lambda kv: -len(kv[1])):
        shown = ", ".join(names[:8]) + (f", ... ({len(names)} in all)" if len(names) > 8 else "")
        lines.append(f"  {why}: {shown}")
    lines += ["", "bytes by type (top):"]
    for name, v in list(d["by_type"].items())[:top]:
        lines.append(f"  {v['bytes']:>12,}  {v['count']:>9,}  {name}")
    lines += ["", "bytes by module (top):"]
    for name, v in list(d["by_module"].items())[:top]:
        lines.append(f"  {v['bytes']:>12,}  {v['count']:>9,}  {name}")
    lines += ["", "largest objects:"]
    for item in d["largest"][:top]:
        lines.append(f"  {item['bytes']:>12,}  {item['path']}  ({item['type']})")
    if d["replayed"]:
        lines += ["", "state the program changed on modules imported again (set again at restore):"]
        lines += [f"  {line}" for line in d["replayed"]]
    if d["hash_memos_kept"]:
        lines += ["", "memoised hashes that could not be reset (stale under a new hash seed):"]
        lines += [f"  {line}" for line in d["hash_memos_kept"]]
    if d["inputs"] is not None:
        i = d["inputs"]
        lines += ["", f"amber run rebuilds this image when one of these changes ({len(i['files'])} files "
                      f"and {len(i['environment_variables'])} variables; --json lists the files):"]
        lines.append(f"  arguments in the key: {' '.join(d['run']['args']) or '(none)'}"
                     + ("" if d["run"]["key_args"] is None else f" (start-up reads {d['run']['key_args']})"))
        if i["absent_files"]:
            lines.append(f"  paths that must stay absent: {', '.join(i['absent_files'][:5])}")
        lines.append(f"  also watched: {len(i['existence_checked'])} existence checks, "
                     f"{len(i['directories_listed'])} directory listings, "
                     f"{len(i['directories_searched_by_imports'])} import directories")
        if i["working_directory"] is not None:
            lines.append(f"  the working directory (start-up depended on it): {i['working_directory']}")
        lines.append(f"  environment variables: {', '.join(i['environment_variables']) or '(none)'}")
        if i["iterated_environment"]:
            lines.append("  the program iterated the whole environment: that is one input, the set of "
                         "variable names (not their values)")
        lines += ["", _render_timings(d["timings"])]
    if d["environ_changed"]:
        lines += ["", "environment variables set during start-up: " + ", ".join(d["environ_changed"])]
    return "\n".join(lines) + "\n"


def _render_timings(t: dict) -> str:
    cold = "not measured" if t["cold_seconds"] is None else f"{t['cold_seconds'] * 1000:.1f} ms"
    restores = ", ".join(f"{s * 1000:.1f}" for s in t["restore_seconds"]) or "none yet"
    choice = {"measuring": "amber run restores it while it measures",
              "restore": "amber run restores it (faster than a cold start)",
              "cold": "amber run runs the program cold (restoring it is not faster)"}[t["choice"]]
    return f"timings      cold start {cold}; restores (ms) {restores}: {choice}"


def sections_table(image: fmt.Image) -> tuple[str, list[str]]:
    """``--sections``: each section with its offset, length, alignment and digest state (ok, DAMAGED,
    cut short), and what a restore does with it. Returns (the table, the sections that fail)."""
    rows = [("section", "offset", "length", "align", "digest", "at restore")]
    failed = []
    for name, offset, length, _digest in image.header["sections"]:
        state = image.state(name)
        if state != "ok":
            failed.append(name)
        spec = records.SECTIONS.get(name)
        if spec is None:
            align, how = "-", "not a section this Amber knows: not used"
        else:
            align = str(spec.align) + ("" if offset % spec.align == 0 else " MISALIGNED")
            how = f"{'mapped' if spec.mapped else 'read'}, {spec.checked}"
        rows.append((name, str(offset), str(length), align, state, how))
    return _lines(explain.columns(rows, right=(1, 2, 3))), failed


def _lines(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"


def _entry(image: fmt.Image, name: str) -> tuple:
    """(offset, length, digest) of section ``name``; the error names what there is instead."""
    if not image.has_section(name):
        names = ", ".join(entry[0] for entry in image.header["sections"])
        raise ImageError(f"{image.path}: image has no {name!r} section (it has {names}; and {HEADER})")
    return image.entry(name)


def _header_bytes(image: fmt.Image) -> bytes:
    base = len(image.launch)
    length = int.from_bytes(image.data[base:][fmt.PREFIX["header_length"]], "little")
    return bytes(image.data[base + fmt.HEADER_AT:base + fmt.HEADER_AT + length])


def disassemble(image: fmt.Image, name: str, out: TextIO) -> None:
    """``--dis NAME``: section ``name`` (or the header) decoded for people. Marshal sections are
    shown field by field with each field's meaning; the buffers and lazy code tables entry by entry;
    the heap by ``pickletools``. A part that does not match its schema is shown as far as it goes,
    then refused with an ImageError."""
    if name == HEADER:
        _dis_header(image, out)
        return
    offset, length, _digest = _entry(image, name)
    spec = records.SECTIONS.get(name)
    if spec is None:
        raise ImageError(f"{image.path}: section {name!r} is not one this Amber knows; --extract {name} "
                         f"writes its bytes")
    data = image.verified(name)
    out.write(f"# {name}: {spec.encoding}; {length} bytes at offset {offset}; digest ok\n")
    if name == fmt.HEAP:
        _dis_heap(image, data, out)
    elif name == fmt.BUFFERS:
        _dis_buffers(image, out)
    elif name == fmt.LAZY_CODE:
        _dis_lazy_code(image, data, out)
    elif spec.schema is not None:
        _dis_record(image, name, spec.schema, out)


def _dis_buffers(image: fmt.Image, out: TextIO) -> None:
    table = image.header.get(fmt.BUFFERS) or []
    out.write(f"# {len(table)} buffer(s) (header field {fmt.BUFFERS}), in the order the heap takes them\n")
    rows = [("index", "start", "length", "readonly")]
    rows += [(str(i), str(start), str(size), str(ro)) for i, (start, size, ro) in enumerate(table)]
    out.write(_lines(explain.columns(rows, right=(0, 1, 2))))


def _dis_record(image: fmt.Image, name: str, schema: Record, out: TextIO) -> None:
    """A marshal section, shown field by field as far as it goes, then refused if it does not match."""
    value = image.decode(name, schema, check=False)
    out.write(_lines(explain.show(schema, value)))
    image.check_record(name, schema, value)


def _dis_header(image: fmt.Image, out: TextIO) -> None:
    from amber.image import signing

    blob = _header_bytes(image)
    base = len(image.launch)
    lines = []
    if image.launch:
        lines += [f"# launch line: {base} bytes, signed: {image.launch.decode(errors='replace').rstrip()}"]
    lines += [f"# prefix: {fmt.HEADER_AT} bytes at offset {base}; the signature block covers the launch "
              f"line, the rest of the prefix and the header"]
    lines += explain.show_layout(fmt.PREFIX, image.data[base:], nested={"signature": signing.BLOCK})
    lines += ["", f"# {HEADER}: marshal; {len(blob)} bytes at offset {base + fmt.HEADER_AT}; digest ok"]
    lines += explain.show(records.HEADER_SCHEMA, image.header)
    out.write(_lines(lines))


def _dis_heap(image: fmt.Image, data: memoryview, out: TextIO) -> None:
    import pickletools  # the standard library's disassembler: nothing of the program runs

    # A heap may hold an int too long for repr's default limit (4300 digits): show it whole.
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        pickletools.dis(bytes(data), out=out)
    except OutputError:  # standard output, not the heap (see amber.errors.Output)
        raise
    except Exception as e:  # an invalid program: ValueError, or whatever garbage makes it raise
        raise ImageError(f"{image.path}: the {fmt.HEAP} section is not a valid pickle program "
                         f"({type(e).__name__}: {e})") from None
    finally:
        sys.set_int_max_str_digits(limit)


def _dis_lazy_code(image: fmt.Image, data: memoryview, out: TextIO) -> None:
    table = image.header.get(fmt.LAZY_CODE) or []
    out.write(f"# {len(table)} blob(s) (header field {fmt.LAZY_CODE}), one per module\n")
    rows = [("index", "start", "length", "digest", "functions")]
    damaged = 0
    for i, (start, length, dig) in enumerate(table):
        blob = data[start:start + length]
        if fmt.digest(blob) != dig:
            damaged += 1
            rows.append((str(i), str(start), str(length), "DAMAGED", ""))
            continue
        try:
            codes = marshal.loads(blob)
        except (ValueError, EOFError, TypeError):
            codes = ()
        names = [c.co_qualname for c in codes if isinstance(c, CodeType)] if isinstance(codes, tuple) else []
        shown = ", ".join(names[:6]) + (f", ... ({len(names)} in all)" if len(names) > 6 else "")
        rows.append((str(i), str(start), str(length), "ok", shown or "(cannot be decoded)"))
    out.write(_lines(explain.columns(rows, right=(0, 1, 2))))
    if damaged:
        raise fmt.damaged(image.path, f"{damaged} blob(s) of section {fmt.LAZY_CODE!r} fail their checksum")


def extract(image: fmt.Image, name: str, out: BinaryIO) -> None:
    """``--extract NAME``: the verified bytes of section ``name`` (or of the header), unchanged."""
    if name == HEADER:
        out.write(_header_bytes(image))
        return
    _entry(image, name)
    out.write(image.verified(name))


def decode_image(path: str, insecure: bool = False, sections: bool = False, dis: str | None = None,
                 extract_name: str | None = None) -> int:
    """Run ``--sections``, ``--dis NAME`` or ``--extract NAME`` on ``path``; raise AmberError for a
    damaged or hand-made image (one line from the caller), return the exit code otherwise. A
    closed standard output (``amber inspect IMAGE --dis heap | head``: the reader had enough) is
    an :class:`~amber.errors.OutputError` (see :mod:`amber.errors` for its exit code)."""
    image = open_image(path, insecure)
    out = Output()
    try:
        if sections:
            table, failed = sections_table(image)
            out.write(table)
            out.flush()
            if failed:
                raise fmt.fails_checksum(path, failed[0], len(failed))
        elif dis is not None:
            disassemble(image, dis, cast(TextIO, out))  # all it calls is write
            out.flush()
        elif extract_name is not None:
            out.flush()
            binary = Output(binary=True)
            extract(image, extract_name, cast(BinaryIO, binary))
            binary.flush()
    finally:
        image.close()
    return 0


def base_set() -> int:
    """Print the base set: the modules every restore starts with, held by reference."""
    import subprocess

    from amber._files import BOOT

    # Read here and written by this process: the child's standard output is a pipe that works,
    # whatever this one's is (closed, a closed pipe, a full device: see amber.errors.output).
    child = subprocess.run([sys.executable, "-I", "-S", BOOT, "base-set"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, check=False)
    if child.returncode != 0:
        raise AmberError(f"the base set cannot be listed (the interpreter it starts with exited with "
                         f"{child.returncode})")
    output(child.stdout.decode("utf-8", "replace"))
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``amber inspect``'s command line (see :mod:`amber.commands.cli`)."""
    parser.usage = "\n       ".join(USAGE)
    parser.add_argument("image", nargs="?", metavar="IMAGE", help="the image to show")
    parser.add_argument("--json", action="store_true", help="everything, as JSON (files included)")
    parser.add_argument("--insecure", action="store_true", help="show an image whatever its signature")
    parser.add_argument("--base-set", action="store_true", dest="base_set",
                        help="list the modules every restore starts with (held by reference)")
    decoder = parser.add_mutually_exclusive_group()  # the decoder for people, as CRIU's crit
    decoder.add_argument("--sections", action="store_true",
                         help="the section table: offset, length, alignment, each digest checked")
    decoder.add_argument("--dis", metavar="NAME",
                         help=f"decode section NAME ({', '.join(records.SECTIONS)}) or {HEADER}, field by "
                              f"field; the heap with pickletools")
    decoder.add_argument("--extract", metavar="NAME",
                         help="write the verified bytes of section NAME (or the header) to stdout")


def _usage_error(message: str) -> UsageError:
    """A mistake on ``amber inspect``'s command line, in the parser's format (the one line ends
    with where to look, as :meth:`amber.commands.parser.Parser.error` says it)."""
    return UsageError(f"{message}; see '{PROG} --help'")


def run(opts: argparse.Namespace) -> int:
    """Run ``amber inspect``; an AmberError is one line from the ``amber`` command."""
    if opts.base_set and opts.image is None:
        return base_set()
    if opts.image is None or opts.base_set:
        raise _usage_error("usage: " + " | ".join(line % {"prog": PROG} for line in USAGE))
    if opts.sections or opts.dis is not None or opts.extract is not None:
        if opts.json:
            raise _usage_error("--json shows the summary; it does not go with --sections, --dis or --extract")
        return decode_image(opts.image, opts.insecure, opts.sections, opts.dis, opts.extract)
    try:
        d = describe(opts.image, opts.insecure)
    except (KeyError, TypeError, ValueError, EOFError):
        raise ImageError(f"{opts.image}: image is damaged (its statistics cannot be read)") from None
    output(json.dumps(d, indent=2) + "\n" if opts.json else render(d))
    return 0
