"""``amber inspect IMAGE [--json]``: what an image holds, for people and for tools."""

import json
import marshal
import sys
import time

from amber.errors import AmberError
from amber.image import format as fmt


def describe(path: str, insecure: bool = False) -> dict:
    image = fmt.read_image(path, check_interpreter=False, insecure=insecure)
    h = image.header
    for name, *_ in h["sections"]:
        if name in (fmt.MAPPED, fmt.LAZY_CODE):
            image.verify_mapped(name)  # inspect vouches for the whole file: every digest is checked
        else:
            image.section(name)
    buffers = image.buffers()
    image.close()
    stats = marshal.loads(image.section("stats"))
    inputs = marshal.loads(image.section("inputs")) if image.has_section("inputs") else None
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
            "files": [path for path, _size, _mtime in inputs["files"]],
            "absent_files": [path for path, size, _mtime in inputs["files"] if size == -1],
            "environment_variables": [name for name, _digest in inputs["env"]],
            "iterated_environment": inputs["env_names"] is not None,
        },
        "capture_seconds": stats["capture_seconds"],
    }


def render(d: dict, top: int = 12) -> str:
    p = d["python"]
    sp = d["snapshot_point"]
    where = {"call": "amber.snapshot() at line", "main-guard": 'if __name__ == "__main__": at line',
             "end": "end of script, line"}[sp["kind"]]
    lines = [
        f"image        {d['image']}  ({sum(d['sections'].values()) / 1e6:.2f} MB in sections)",
        f"made by      Amber {d['amber']} (format {d['format']}) on {d['created']}",
        f"interpreter  {p['implementation']} {p['version'].split()[0]} ({p['platform']}, {p['cache_tag']}) "
        f"{p['executable']}",
        f"snapshot at  {sp['module'] or sp['script']}: {where} {sp['line']}",
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
            lines.append(f"  files that must stay absent: {', '.join(i['absent_files'][:5])}")
        lines.append(f"  environment variables: {', '.join(i['environment_variables']) or '(none)'}")
        if i["iterated_environment"]:
            lines.append("  the program iterated the whole environment: that is one input, the set of "
                         "variable names (not their values)")
    if d["environ_changed"]:
        lines += ["", "environment variables set during start-up: " + ", ".join(d["environ_changed"])]
    return "\n".join(lines) + "\n"


def base_set() -> int:
    """Print the base set: the modules every restore starts with, held by reference."""
    import subprocess

    from amber._files import BOOT

    return subprocess.call([sys.executable, "-I", "-S", BOOT, "base-set"])


def main(args: list) -> int:
    if args == ["--base-set"]:
        return base_set()
    as_json = "--json" in args
    insecure = "--insecure" in args
    rest = [a for a in args if a not in ("--json", "--insecure")]
    if len(rest) != 1 or rest[0].startswith("-"):
        sys.stderr.write("amber: error: usage: amber inspect IMAGE [--json] | amber inspect --base-set\n")
        return 2
    try:
        d = describe(rest[0], insecure)
    except AmberError as e:
        sys.stderr.write(f"amber: error: {e}\n")
        return 2
    except (KeyError, TypeError, ValueError, EOFError):
        sys.stderr.write(f"amber: error: {rest[0]}: image is damaged (its statistics cannot be read)\n")
        return 2
    sys.stdout.write(json.dumps(d, indent=2) + "\n" if as_json else render(d))
    return 0
