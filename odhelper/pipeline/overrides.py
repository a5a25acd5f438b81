"""`--set key=value` overrides of a pipeline config, with clear errors.

Dotted keys (`train_config.batch_size`, `model.ssd.image_resizer.fixed_shape_resizer.height`)
walk the proto field by field (unset fields may be set too); plain keys are the
OD API's own strategy keys (`learning_rate`, `batch_size`, `train_steps`, ...)
and go through `config_util.merge_external_params_with_configs`.
"""
from __future__ import annotations

from typing import Any, Iterable

from odhelper.errors import UsageError

ROOTS = ("model", "train_config", "train_input_config", "eval_config", "eval_input_config",
         "graph_rewriter_config")
STRATEGY_KEYS = ("learning_rate", "batch_size", "momentum_optimizer_value", "train_steps",
                 "label_map_path", "focal_loss_gamma", "focal_loss_alpha",
                 "classification_localization_weight_ratio", "sample_1_of_n_eval_examples",
                 "eval_num_epochs", "num_classes", "train_input_path", "eval_input_path",
                 "train_shuffle", "eval_shuffle")


def parse(items: Iterable[str]) -> list[tuple[str, Any]]:
    """['a.b=3', 'c=x'] -> [('a.b', 3), ('c', 'x')] with YAML scalar typing."""
    import yaml

    pairs = []
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {item!r}: expected key=value, e.g. "
                             "--set train_config.batch_size=8")
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            value = text
        pairs.append((key.strip(), _number(value)))
    return pairs


def _number(value: Any) -> Any:
    """'1e15' (YAML reads it as text) -> 1e+15."""
    if isinstance(value, str):
        try:
            return float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            return value
    return value


def _field(message, name: str, key: str):
    descriptor = message.DESCRIPTOR.fields_by_name.get(name)
    if descriptor is None:
        known = ", ".join(sorted(message.DESCRIPTOR.fields_by_name)) or "none"
        raise UsageError(f"--set {key}: {message.DESCRIPTOR.name} has no field '{name}' "
                         f"(its fields: {known})")
    return descriptor


def _convert(descriptor, value: Any, key: str) -> Any:
    """Proto-typed value: enum names -> numbers, ints -> floats where needed."""
    from google.protobuf.descriptor import FieldDescriptor as F

    if descriptor.type == F.TYPE_ENUM and isinstance(value, str):
        enum_value = descriptor.enum_type.values_by_name.get(value)
        if enum_value is None:
            names = ", ".join(descriptor.enum_type.values_by_name)
            raise UsageError(f"--set {key}={value}: not one of {names}")
        return enum_value.number
    if descriptor.type in (F.TYPE_FLOAT, F.TYPE_DOUBLE) and isinstance(value, int) \
            and not isinstance(value, bool):
        return float(value)
    return value


def _set_dotted(configs: dict, key: str, value: Any) -> None:
    from google.protobuf.descriptor import FieldDescriptor as F

    root, *path = key.split(".")
    if root == "eval_input_config":
        message = configs["eval_input_configs"][0]
    else:
        message = configs.get(root)
    if message is None or not path:
        raise UsageError(f"--set {key}: key must start with one of {', '.join(ROOTS)} "
                         "followed by a field path, or be one of " + ", ".join(STRATEGY_KEYS))
    for name in path[:-1]:
        descriptor = _field(message, name, key)
        if descriptor.type != F.TYPE_MESSAGE or descriptor.is_repeated:
            raise UsageError(f"--set {key}: '{name}' is not a single sub-message")
        message = getattr(message, name)
    descriptor = _field(message, path[-1], key)
    if descriptor.type == F.TYPE_MESSAGE:
        raise UsageError(f"--set {key}: '{path[-1]}' is a message; name one of its fields")
    try:
        if descriptor.is_repeated:
            items = value if isinstance(value, list) else [value]
            del getattr(message, path[-1])[:]
            getattr(message, path[-1]).extend(_convert(descriptor, v, key) for v in items)
        else:
            setattr(message, path[-1], _convert(descriptor, value, key))
    except (TypeError, ValueError) as exc:
        raise UsageError(f"--set {key}={value!r}: wrong type for this field ({exc})") from None


def apply(configs: dict, pairs: Iterable[tuple[str, Any]]) -> list[str]:
    """Apply every override to `configs` in place; return 'key=value' strings applied."""
    from odhelper.od import api

    applied = []
    for key, value in pairs:
        if "." in key:
            _set_dotted(configs, key, value)
        elif key in STRATEGY_KEYS:
            try:
                api().config_util.merge_external_params_with_configs(
                    configs, kwargs_dict={key: value})
            except (TypeError, ValueError) as exc:
                raise UsageError(f"--set {key}={value!r}: {exc}") from None
        else:
            raise UsageError(f"--set {key}: unknown key; use a dotted field path starting with "
                             f"one of {', '.join(ROOTS)}, or one of {', '.join(STRATEGY_KEYS)}")
        applied.append(f"{key}={value}")
    return applied
