"""Binding the words of a command line to its declared, typed parameters."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xsp_cli_contexts.schema import Command, Param
from xsp_cli_contexts.types import ParamError, Sources
from xsp.cli.grammar import keyword_of
from xsp.cli.render import usage


@dataclass
class Bound:
    values: dict[str, Any] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)


def _parse(param: Param, word: str, sources: Sources, bound: Bound) -> None:
    if not word:
        raise ParamError(f"{param.name}: an empty value is not accepted; expected {param.type.describe()}")
    try:
        parsed = param.type.parse(word, sources)
    except ParamError as exc:
        raise ParamError(f"{param.name}: {exc}") from None
    bound.values[param.name] = parsed.value
    if parsed.notice:
        bound.notices.append(parsed.notice)


def _split_keyword(word: str, keywords: dict[str, Param]) -> tuple[Param, str | None] | None:
    """``keyFile`` alone, or glued to its value as the guide prints it (``keyFile/tmp/k``)."""
    hit = keyword_of(word, keywords)
    return None if hit is None else (keywords[hit[0]], hit[1])


def bind(command: Command, words: list[str], sources: Sources) -> Bound:
    """Positional parameters in order, then ``keyword value`` pairs in any order."""
    bound = Bound()
    positional = [p for p in command.params if not p.keyword]
    keywords = {p.keyword.lower(): p for p in command.params if p.keyword}
    rest = list(words)
    for param in positional:
        if not rest or (keywords and _split_keyword(rest[0], keywords)):
            if param.optional:
                continue
            raise ParamError(f"missing parameter <{param.name}> (usage: {usage(command)})")
        _parse(param, rest.pop(0), sources, bound)
    while rest:
        word = rest.pop(0)
        hit = _split_keyword(word, keywords) if keywords else None
        if hit is None:
            raise ParamError(f"unexpected parameter {word} (usage: {usage(command)})")
        param, value = hit
        if param.name in bound.values:
            raise ParamError(f"{param.keyword} is given twice (usage: {usage(command)})")
        if value is None:
            if not rest:
                raise ParamError(f"{param.keyword} needs a value (usage: {usage(command)})")
            value = rest.pop(0)
        _parse(param, value, sources, bound)
    missing = [p for p in keywords.values() if p.name not in bound.values and not p.optional]
    if missing:
        raise ParamError(f"missing parameter {missing[0].keyword} <{missing[0].name}> "
                         f"(usage: {usage(command)})")
    return bound
