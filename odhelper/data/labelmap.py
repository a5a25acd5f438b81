"""Read and write `label_map.pbtxt` (StringIntLabelMap text format) without TensorFlow.

    item {
      id: 1
      name: 'raccoon'
    }
"""
from __future__ import annotations

import re
from pathlib import Path

from odhelper import files
from odhelper.errors import OdhelperError

_ITEM = re.compile(r"item\s*\{(.*?)\}", re.S)
_FIELD = re.compile(r"(\w+)\s*:\s*(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|[-\w.]+)")


def _unquote(value: str) -> str:
    if value[:1] in "'\"" and value[-1:] == value[:1]:
        return bytes(value[1:-1], "utf-8").decode("unicode_escape").encode("latin-1").decode()
    return value


def read(path: str | Path) -> dict[str, int]:
    """{class name: id} from a label map file; ids must be unique positive ints."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise OdhelperError(f"{path}: cannot read the label map: {exc}") from None
    text = re.sub(r"#[^\n]*", "", text)
    mapping: dict[str, int] = {}
    for number, body in enumerate(_ITEM.findall(text), start=1):
        fields = {key: _unquote(value) for key, value in _FIELD.findall(body)}
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


def to_text(mapping: dict[str, int]) -> str:
    def quote(name: str) -> str:
        return "'" + name.replace("\\", "\\\\").replace("'", "\\'") + "'"
    items = sorted(mapping.items(), key=lambda kv: kv[1])
    return "".join(f"item {{\n  id: {i}\n  name: {quote(n)}\n}}\n\n" for n, i in items)


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
