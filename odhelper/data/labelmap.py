"""Read and write `label_map.pbtxt` (StringIntLabelMap text format) without TensorFlow.

    item {
      id: 1
      name: 'raccoon'
    }
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from odhelper import files, log
from odhelper.errors import OdhelperError

# Tokens of the protobuf text format: strings (either quote, backslash escapes),
# comments, braces, colons, bare words. A class name is data: `#`, `{`, `}` and
# quotes inside a string are never syntax.
_TOKEN = re.compile(r"""\s+|#[^\n]*|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|[{}:;,]|[-\w.+]+""")
_ESCAPES = {"n": b"\n", "r": b"\r", "t": b"\t", "a": b"\a", "b": b"\b", "f": b"\f",
            "v": b"\v", "\\": b"\\", "'": b"'", '"': b'"', "?": b"?"}
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)", re.S)


def _unquote(token: str) -> str:
    """A quoted text-format string -> its text (C escapes, UTF-8 bytes)."""
    def byte(match: re.Match) -> bytes:
        code = match.group(1)
        if code[0] == "x":
            return bytes([int(code[1:], 16)])
        if code[0] in "01234567":
            return bytes([int(code, 8) & 0xFF])
        return _ESCAPES.get(code, code.encode())
    body = token[1:-1]
    out, last = bytearray(), 0
    for match in _ESCAPE.finditer(body):
        out += body[last:match.start()].encode() + byte(match)
        last = match.end()
    out += body[last:].encode()
    return out.decode("utf-8", errors="replace")


def _tokens(text: str, path: Path):
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            raise OdhelperError(f"{path}: cannot parse the label map near "
                                f"{text[position:position + 20]!r}")
        position = match.end()
        token = match.group()
        if not token[0].isspace() and token[0] != "#":
            yield token


def _items(text: str, path: Path) -> list[dict[str, str]]:
    """The fields of each top-level `item { ... }` (nested messages skipped)."""
    items, depth, key, current = [], 0, None, None
    for token in _tokens(text, path):
        if token == "{":
            depth += 1
            if depth == 1:
                current = {}
                items.append(current)
            key = None
        elif token == "}":
            depth -= 1
            if depth < 0:
                raise OdhelperError(f"{path}: unbalanced `}}` in the label map")
        elif token in (":", ";", ","):
            continue
        elif depth == 1 and key is None:
            key = token
        elif depth == 1:
            value = _unquote(token) if token[0] in "'\"" else token
            current.setdefault(key, value)
            key = None
    if depth:
        raise OdhelperError(f"{path}: unbalanced `{{` in the label map")
    return items


def read(path: str | Path) -> dict[str, int]:
    """{class name: id} from a label map file; ids must be unique positive ints."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise OdhelperError(f"{path}: cannot read the label map: {exc}") from None
    mapping: dict[str, int] = {}
    for number, fields in enumerate(_items(text, path), start=1):
        if "name" not in fields or "id" not in fields:
            raise OdhelperError(f"{path}: item {number} needs both `id` and `name`")
        try:
            item_id = int(fields["id"])
        except ValueError:
            raise OdhelperError(f"{path}: item {number}: id {fields['id']!r} is not an integer")
        if item_id < 1:
            raise OdhelperError(f"{path}: item {number}: id {item_id} (0 is the background)")
        if fields["name"] in mapping or item_id in mapping.values():
            raise OdhelperError(f"{path}: item {number}: duplicate name or id")
        mapping[fields["name"]] = item_id
    if not mapping:
        raise OdhelperError(f"{path}: no `item {{ id: .. name: .. }}` entries")
    return mapping


def generate(class_names) -> dict[str, int]:
    """Sorted class names, ids from 1."""
    return {name: number for number, name in enumerate(sorted(set(class_names)), start=1)}


def similar_names(box_names) -> list[list[tuple[str, int]]]:
    """Groups of class names that differ only by case or surrounding spaces ("Raccoon",
    "raccoon "), each as (name, boxes), most boxes first."""
    counts: dict[str, int] = {}
    for name in box_names:
        counts[name] = counts.get(name, 0) + 1
    groups: dict[str, list[tuple[str, int]]] = {}
    for name, boxes in counts.items():
        groups.setdefault(name.strip().casefold(), []).append((name, boxes))
    return [sorted(g, key=lambda pair: (-pair[1], pair[0])) for g in groups.values()
            if len(g) > 1]


def report_similar_names(items, merge: bool) -> None:
    """Say which class names differ only by case or spaces; with `merge`, rename their
    boxes to the group's most frequent spelling."""
    from odhelper import log

    for group in similar_names(b.name for item in items for b in item.boxes):
        listed = ", ".join(f"'{name}' ({boxes} boxes)" for name, boxes in group)
        if not merge:
            log.warning("Class names that differ only by case or spaces: %s: kept as %d "
                        "classes (--merge-case makes them one)", listed, len(group))
            continue
        target = group[0][0]
        log.info("Class names merged into '%s': %s (--merge-case)", target, listed)
        spellings = {name for name, _ in group}
        for item in items:
            for box in item.boxes:
                if box.name in spellings:
                    box.name = target


def quote(name: str) -> str:
    """`name` as a text-format string: printable characters (any script) as they are,
    quotes and backslashes escaped, control characters as octal escapes."""
    out = []
    for char in name:
        if char in "\\'\"":
            out.append("\\" + char)
        elif char.isprintable() or char == " ":
            out.append(char)
        else:
            out.append("".join(f"\\{byte:03o}" for byte in char.encode("utf-8")))
    return "'" + "".join(out) + "'"


def to_text(mapping: dict[str, int]) -> str:
    items = sorted(mapping.items(), key=lambda kv: kv[1])
    return "".join(f"item {{\n  id: {i}\n  name: {quote(n)}\n}}\n\n" for n, i in items)


def unparsable(mapping: dict[str, int]) -> dict[str, str]:
    """{class name: why} for each name that the OD API's label-map parser (protobuf
    text format, as `label_map_util.load_labelmap` reads it) would not give back
    exactly from the file we write."""
    from google.protobuf import text_format

    from odhelper.od import label_map_proto

    bad: dict[str, str] = {}
    for name, number in mapping.items():
        try:
            text = to_text({name: number})
            parsed = label_map_proto()
            text_format.Merge(text, parsed)
            got = parsed.item[0].name if len(parsed.item) == 1 else None
        except (UnicodeError, text_format.ParseError) as exc:
            bad[name] = f"the OD API's label-map parser cannot take it ({exc})"
            continue
        if got != name:
            bad[name] = f"the OD API's label-map parser reads it back as {got!r}"
    return bad


def refuse_unparsable(mapping: dict[str, int], source_of) -> None:
    """Stop before anything is written when a class name would not survive the label
    map; `source_of(name)` names the file it came from."""
    bad = unparsable(mapping)
    if bad:
        name, why = next(iter(bad.items()))
        more = f" (and {len(bad) - 1} more classes)" if len(bad) > 1 else ""
        raise OdhelperError(f"{source_of(name)}: class {name!r}: {why}{more}; rename it")


def write(mapping: dict[str, int], path: str | Path) -> Path:
    files.write_text(path, to_text(mapping))
    return Path(path)


def project_root(start: Path | None = None) -> Path | None:
    """The odhelper checkout containing `start` (default: the current folder), if any."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        pyproject = folder / "pyproject.toml"
        if (folder / "odhelper" / "cli.py").is_file() and pyproject.is_file() and \
                'name = "odhelper"' in pyproject.read_text(encoding="utf-8", errors="ignore"):
            return folder
    return None


def checkout_copy(wanted: bool, name: str) -> str | None:
    """label_maps/<name>.pbtxt of the odhelper checkout, when a copy is wanted."""
    root = project_root()
    if not wanted or root is None:
        return None
    return str(root / "label_maps" / f"{name}.pbtxt")


def copy_to_checkout(wanted: bool, name: str, source: Path) -> str | None:
    """`tfrecord --copy-label-map`: the label map copied into the checkout's label_maps/
    (the original helper tool's place); where it went, or None."""
    if wanted and project_root() is None:
        log.warning("--copy-label-map: not inside an odhelper checkout; copy skipped")
    target = checkout_copy(wanted, name)
    if target is None:
        return None
    files.remove_leftovers(target)
    with files.atomic_path(target) as temp:
        shutil.copyfile(source, temp)
    return str(target)
