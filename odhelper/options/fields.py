"""Typed options: each command declares a dataclass; this turns it into flags.

A field's metadata holds its flags and help, so the dataclass is the one
source of every option and its default (shown by `--help`, saved as YAML).
Every command also takes `--config FILE.yaml` (such a saved file): its values
are the defaults, flags given on the command line override them.
"""
from __future__ import annotations

import argparse
import dataclasses
import difflib
import typing
from pathlib import Path
from typing import Any, Sequence

from odhelper.errors import UsageError


def option(default: Any = dataclasses.MISSING, help: str = "", flags: Sequence[str] = (),
           choices: Sequence[Any] | None = None, factory: Any = None, cli: bool = True,
           const: Any = None, old_flags: Sequence[str] = (), required: bool = False,
           group: str | None = None):
    """A dataclass field that is also a command-line flag (`const`: the value of the
    flag given without one, e.g. `--tflite` alone). `old_flags`: earlier spellings that
    still work with a deprecation line; `required`: said in --help (the check itself is
    the class's, as a --config file may give the value); `group`: its --help heading
    (default: the declaring class's GROUP)."""
    metadata = {"help": help, "flags": tuple(flags), "choices": choices, "cli": cli,
                "const": const, "old_flags": tuple(old_flags), "required": required,
                "group": group}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _base_type(annotation: Any) -> tuple[type, bool]:
    """(element type, is_list) for `int`, `str | None`, `list[str]`, `Path`..."""
    if isinstance(annotation, str):
        annotation = eval(annotation, vars(typing) | {"Path": Path})  # noqa: S307
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (list, tuple, Sequence):
        return args[0], True
    if args and origin is not None:
        return _base_type(args[0])
    return annotation, False


def _group_of(cls: type, field: dataclasses.Field) -> str | None:
    """The --help heading of `field`: its own ("" for none: a main option), else the
    GROUP of the class declaring it."""
    if field.metadata.get("group") is not None:
        return field.metadata["group"] or None
    for base in cls.__mro__:
        if field.name in base.__dict__.get("__annotations__", {}):
            return base.__dict__.get("GROUP")
    return None


class _OldSpelling(argparse.Action):
    """An earlier flag: stores like the new one, after one line saying so."""

    def __init__(self, *args, new: str = "", **kwargs):
        self.new = new
        super().__init__(*args, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        import sys

        print(f"odhelper: {option_string} is an old spelling of {self.new}; it still works in "
              "this release", file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add one flag per field of dataclass `cls`: the fields without a heading first (the
    main ones), then each heading's (`cls.GROUPS` gives their order)."""
    hints = typing.get_type_hints(cls)
    order = list(getattr(cls, "GROUPS", ()))
    groups: dict[str | None, Any] = {None: parser}
    chosen = [f for f in dataclasses.fields(cls) if f.metadata.get("cli", True)]
    rank = {title: index for index, title in enumerate(order)} | {None: -1}
    chosen.sort(key=lambda f: rank.get(_group_of(cls, f), len(order)))
    for field in chosen:
        meta = field.metadata
        title = _group_of(cls, field)
        if title not in groups:
            groups[title] = parser.add_argument_group(f"{title} options")
        kind, is_list = _base_type(hints[field.name])
        flags = list(meta.get("flags") or ()) + ["--" + field.name.replace("_", "-")]
        kwargs: dict[str, Any] = {"dest": field.name, "help": meta.get("help", "")}
        if meta.get("required"):
            kwargs["help"] = "required: " + kwargs["help"]
        default = (field.default if field.default is not dataclasses.MISSING
                   else field.default_factory() if field.default_factory is not dataclasses.MISSING
                   else None)
        if kind is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = kind if kind is not Any else str
            if is_list:  # repeatable: --set a=1 --set b=2, or --set a=1 b=2
                kwargs.update(nargs="+", action="extend")
            if meta.get("choices"):
                kwargs["choices"] = meta["choices"]
            if meta.get("const") is not None:
                kwargs.update(nargs="?", const=meta["const"])
        if default is not None and kind is not bool:
            kwargs["help"] += f" (default: {default})"
        kwargs["default"] = argparse.SUPPRESS
        groups[title].add_argument(*dict.fromkeys(flags), **kwargs)
        if meta.get("old_flags"):
            groups[title].add_argument(
                *meta["old_flags"], dest=field.name, type=kwargs["type"],
                default=argparse.SUPPRESS, help=argparse.SUPPRESS, action=_OldSpelling,
                new="/".join(flags))
    parser.add_argument("--config", dest="config", type=Path, default=None, metavar="FILE.yaml",
                        help="read the options from this YAML file (as saved by an earlier "
                        "run); flags given here override it")


def from_namespace(cls: type, namespace: argparse.Namespace, **overrides: Any):
    """Build dataclass `cls` from parsed flags (unset flags keep the --config file's
    values, else the defaults)."""
    config = getattr(namespace, "config", None)
    values = load_yaml(cls, config) if config else {}
    values.update({f.name: getattr(namespace, f.name) for f in dataclasses.fields(cls)
                   if hasattr(namespace, f.name)})
    values.update(overrides)
    return build(cls, values)


def build(cls: type, values: dict[str, Any]):
    """`cls(**values)`; a bad value is a UsageError. The object remembers which options
    were given (`given_fields`)."""
    try:
        built = cls(**values)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    built.given = frozenset(values)
    return built


def given_fields(options: Any) -> frozenset[str]:
    """The options the user gave (flags, --config keys, keyword arguments); for an
    object built in code, the fields that differ from their defaults."""
    given = getattr(options, "given", None)
    if given is not None:
        return given
    found = set()
    for item in dataclasses.fields(options):
        default = item.default if item.default is not dataclasses.MISSING else (
            item.default_factory() if item.default_factory is not dataclasses.MISSING else None)
        if getattr(options, item.name) != default:
            found.add(item.name)
    return frozenset(found)


def load_yaml(cls: type, path: str | Path) -> dict[str, Any]:
    """The options saved in a YAML file, checked against `cls`'s fields."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"--config {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"--config {path}: not valid YAML ({exc})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"--config {path}: expected `key: value` lines, got "
                         f"{type(data).__name__}")
    values = typed_values(cls, data, f"--config {path}")
    for chosen, derived in getattr(cls, "ALTERNATIVES", {}).items():
        if values.get(chosen) is not None:  # e.g. --epochs recorded with the steps it made
            values.pop(derived, None)
    return values


def from_keywords(cls: type, values: dict[str, Any]):
    """Build `cls` from keyword arguments named like the long flags (the Python API):
    the same types, checks and "did you mean" as flags and --config files."""
    return build(cls, typed_values(cls, values, cls.__name__))


def typed_values(cls: type, data: dict, where: str) -> dict[str, Any]:
    """`data` (option name -> value) checked against `cls`'s fields and typed."""
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in data.items():
        name = str(key).replace("-", "_")
        name = getattr(cls, "RENAMED", {}).get(name, name)  # an old name still reads
        if name not in known:
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UsageError(f"{where}: unknown option {key!r}{hint}")
        values[name] = _typed(hints[name], value, f"{where}: {key}")
    return values


def _typed(annotation: Any, value: Any, where: str) -> Any:
    """A YAML value as the field's type (YAML already gives numbers and booleans)."""
    kind, is_list = _base_type(annotation)
    if value is None:
        return None
    if is_list:
        value = list(value) if isinstance(value, tuple) else value
        if not isinstance(value, list):
            raise UsageError(f"{where}: expected a list, got {value!r}")
        return [_typed(kind, item, where) for item in value]
    if kind is bool and not isinstance(value, bool):
        raise UsageError(f"{where}: expected true or false, got {value!r}")
    try:
        return kind(value) if kind in (int, float, str, Path) else value
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{where}: expected {kind.__name__}, got {value!r}") from exc


def to_dict(obj: Any) -> dict[str, Any]:
    """Plain, YAML/JSON-friendly dict of a (nested) options dataclass."""
    from odhelper import files
    return files.plain(obj)


def save_yaml(obj: Any, path: str | Path) -> None:
    """Write the options as YAML, atomically (run.yaml)."""
    from odhelper import files
    files.write_yaml(path, obj)
