"""Strict bodies: every `/v1` body is the strict variant of its model (`entrypoints.strict`), so an
unknown field or a flag that is no JSON boolean is 422 naming the field, and nothing starts or changes.
The OpenAPI document shows the variants (`additionalProperties: false`, boolean flags) under the
models' names."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Body, Depends
from pydantic import BaseModel

from entrypoints.strict import from_strict, strict

M = TypeVar("M", bound=BaseModel)


def strict_body(model: type[M]) -> Any:
    """A dependency: the JSON body validated as `strict(model)`, handed to the route as a `model`.
    Use as `Annotated[Model, strict_body(Model)]`."""
    variant = strict(model)

    def body(value: BaseModel) -> M:
        return from_strict(model, value)

    # the annotations FastAPI reads: the body is the variant (its schema, its validation)
    body.__annotations__ = {"value": Annotated[variant, Body()], "return": model}
    return Depends(body)
