"""Strict edges: a body or file that names an unknown field, or gives a flag as anything but JSON true
or false, is refused with the field named, before anything starts or changes.

The contract models of `domain` stay lenient on purpose: they are also the workflows' inputs and
results, decoded from saved histories and by workers and clients of other versions (SPEC §5: "Extra
fields may be added"). So the doors derive the strictness: `strict` makes, once per model, a variant
with the same fields, validators and name, `extra="forbid"` and every `bool` a `StrictBool`, down
through nested models, lists and optionals. The use cases get the model itself (`from_strict`). The
HTTP bodies are such variants (`entrypoints.http.strict`), and so are the command line's JSON files
(`validate_json`).
"""

from __future__ import annotations

import functools
import operator
import types
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, StrictBool, create_model

M = TypeVar("M", bound=BaseModel)

_CONTAINERS = (list, set, frozenset, tuple, dict)
_variants: dict[type[BaseModel], type[BaseModel]] = {}


def strict(model: type[M]) -> type[M]:
    """The strict variant of `model` (made once, then reused): a subclass of the same name that forbids
    unknown fields and takes only JSON booleans for its `bool` fields, nested models made strict too."""
    if model in _variants:
        return _variants[model]  # type: ignore[return-value]
    changed: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        annotation = _strict_type(field.annotation)
        if annotation is not field.annotation:
            info = field._copy()  # the same default, constraints and validators
            info.annotation = annotation
            changed[name] = (annotation, info)
    variant: type[M] = create_model(
        model.__name__,
        __base__=model,
        __module__=__name__,
        __doc__=model.__doc__,
        __config__=ConfigDict(extra="forbid"),  # merged with the model's own (hide_input_in_errors)
        **changed,
    )
    _variants[model] = variant
    return variant


def _strict_type(annotation: Any) -> Any:
    """`annotation` with `bool` as `StrictBool` and models as their strict variants; the very same
    object when nothing in it changes."""
    if annotation is bool:
        return StrictBool
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return strict(annotation)
    origin, args = get_origin(annotation), get_args(annotation)
    if not args:
        return annotation
    if origin is Annotated:
        inner = _strict_type(args[0])
        return annotation if inner is args[0] else Annotated[inner, *annotation.__metadata__]
    if origin not in (Union, types.UnionType, *_CONTAINERS):
        return annotation  # Literal and the like: values, not types
    new = tuple(arg if arg is Ellipsis else _strict_type(arg) for arg in args)
    if all(n is a for n, a in zip(new, args, strict=True)):
        return annotation
    if origin in (Union, types.UnionType):
        return functools.reduce(operator.or_, new)
    return origin[new]


def from_strict(model: type[M], value: BaseModel) -> M:
    """The model of a validated strict variant: the fields the caller gave, validated by the model
    itself (a variant never equals its model, so the use cases get the model)."""
    return model.model_validate(value.model_dump(exclude_unset=True, by_alias=True))


def validate_json(model: type[M], data: str | bytes) -> M:
    """JSON text as `model`, checked by its strict variant (ValidationError naming the field)."""
    return from_strict(model, strict(model).model_validate_json(data))
