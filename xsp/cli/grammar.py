"""How a CLI line reads, once, for the engine that runs it and the completer that
offers what may come next: steps split on ``;``, names picked by unique
case-insensitive prefix, level paths, and the ``keyword value`` form (glued as the
guide prints it: ``keyFile/tmp/k``)."""
from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import TypeVar, Union

from xsp_cli_contexts.schema import Command, Context
from xsp.cli.actions import CommandError

GLOBALS = ("cd", "help", "exit", "quit", "emu")

# What the first word of a step names: a level, a command of the level, or a global
# command by its name.
Target = Union[Context, Command, str]
T = TypeVar("T")


def split_steps(line: str, *, keep_empty: bool = False) -> list[str]:
    """Split on ``;`` outside quotes. The completer keeps empty steps (the one being typed)."""
    steps: list[str] = []
    current: list[str] = []
    quote = ""
    for ch in line:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == ";":
            steps.append("".join(current))
            current = []
            continue
        current.append(ch)
    steps.append("".join(current))
    return steps if keep_empty else [s for s in steps if s.strip()]


def matching(word: str, named: Iterable[tuple[str, T]]) -> list[tuple[str, T]]:
    """The names ``word`` picks: the exact name (it wins over longer ones it prefixes),
    else every name it prefixes, case-insensitively."""
    low = word.lower()
    named = list(named)
    return ([(n, t) for n, t in named if n.lower() == low]
            or [(n, t) for n, t in named if n.lower().startswith(low)])


def pick(word: str, named: Iterable[tuple[str, T]], what: str) -> T:
    """The one thing ``word`` names; a CommandError saying why when none or several."""
    named = list(named)
    hits = matching(word, named)
    if len(hits) == 1:
        return hits[0][1]
    if not hits:
        names = ", ".join(n for n, _ in named)
        guess = did_you_mean(word, [n for n, _ in named])
        hint = f"; did you mean {guess}?" if guess else ""
        raise CommandError(f"Error: unknown {what}: {word}{hint} (expected one of: {names})")
    raise CommandError(f"Error: ambiguous {what}: {word} (matches {', '.join(n for n, _ in hits)})")


def did_you_mean(word: str, names: Iterable[str]) -> str | None:
    """The one name a mistyped ``word`` most likely meant (a slip of a letter or two, a
    swap), compared case-insensitively; None when nothing is close enough."""
    by_lower = {n.lower(): n for n in names}
    close = difflib.get_close_matches(word.lower(), by_lower, n=1, cutoff=0.6)
    return by_lower[close[0]] if close else None


def unique(word: str, named: Iterable[tuple[str, T]]) -> T | None:
    """What ``pick`` would pick, or None where it would refuse."""
    hits = matching(word, named)
    return hits[0][1] if len(hits) == 1 else None


def completions(word: str, names: Iterable[str]) -> list[str]:
    """The names a partly typed ``word`` may still become."""
    low = word.lower()
    return [n for n in names if n.lower().startswith(low)]


def globals_at(context: Context) -> list[str]:
    """Global commands, except where the level has a command of the same name."""
    return [g for g in GLOBALS if g not in context.commands]


def named_at(context: Context) -> list[tuple[str, Target]]:
    """What a step's first word may name at ``context``, in the order help lists them."""
    return [*context.children.items(), *context.commands.items(),
            *((g, g) for g in globals_at(context))]


def is_path(word: str) -> bool:
    """A word run as ``cd``: ``..``, ``/`` or anything with a slash."""
    return word in ("..", "/") or "/" in word


def may_become_path(word: str) -> bool:
    """A partly typed word that is a path, or the start of ``..``."""
    return is_path(word) or (word != "" and "..".startswith(word))


def walk(context: Context, path: str) -> Context:
    """The level ``path`` names from ``context``, abbreviations allowed."""
    if path.startswith("/"):
        while context.parent is not None:
            context = context.parent
    for part in filter(None, path.split("/")):
        if part == "..":
            context = context.parent or context
            continue
        # A path names levels only, so a command sharing a prefix does not make it ambiguous.
        context = pick(part, context.children.items(),
                       f"level below {context.path or 'the root'}")
    return context


def keyword_of(word: str, keywords: Mapping[str, object]) -> tuple[str, str | None] | None:
    """The (lower-case) keyword ``word`` gives, and the value glued to it if any.

    ``keywords`` are keyed in lower case. A keyword is glued only to a path
    (``keyFile/tmp/k``, ``keyFile./k``, ``keyFile~/k``), as the guide prints it.
    """
    low = word.lower()
    if low in keywords:
        return low, None
    for key in keywords:
        if low.startswith(key) and word[len(key):].startswith(("/", ".", "~")):
            return key, word[len(key):]
    return None
