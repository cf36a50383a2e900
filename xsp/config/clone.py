"""A private copy of a deployment, cheap enough for every saved change.

The model's frozen dataclasses (a trust anchor, a user, an interface certificate) and
its scalars cannot change, so a copy shares them; only mutable dataclasses and lists
are copied. With a thousand trust anchors that is one list copy instead of a thousand
objects, which is what keeps a saved change fast whatever the number of anchors.
"""
from __future__ import annotations

import copy
import dataclasses
import functools
import types
import typing
from typing import Any, Callable, Literal

_Copy = Callable[[Any], Any]


def _share(value: Any) -> Any:
    return value


def _immutable(tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        return all(_immutable(t) for t in typing.get_args(tp))
    if origin is Literal or tp in (str, int, bool, float, type(None)):
        return True
    if dataclasses.is_dataclass(tp) and tp.__dataclass_params__.frozen:  # type: ignore[union-attr]
        hints = typing.get_type_hints(tp)
        return all(_immutable(hints[f.name]) for f in dataclasses.fields(tp))
    return False


@functools.cache
def _copier(tp: Any) -> _Copy:
    if _immutable(tp):
        return _share
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        (inner,) = [t for t in typing.get_args(tp) if t is not type(None)]
        copy_inner = _copier(inner)
        return lambda value: None if value is None else copy_inner(value)
    if origin is list:
        (item,) = typing.get_args(tp)
        if _immutable(item):
            return list
        copy_item = _copier(item)
        return lambda value: [copy_item(v) for v in value]
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        plan = [(f.name, _copier(hints[f.name])) for f in dataclasses.fields(tp)]

        def copy_dataclass(value: Any) -> Any:
            new = object.__new__(type(value))
            new.__dict__.update({name: copy(value.__dict__[name]) for name, copy in plan})
            return new
        return copy_dataclass
    return copy.deepcopy  # a type this module does not know: correct, if slower


def clone(value: Any) -> Any:
    """A copy of the model object ``value`` that shares only what cannot change."""
    cls: type = type(value)
    return _copier(cls)(value)
