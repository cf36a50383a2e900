"""Completion of levels, commands and parameter values for the prompt_toolkit shell.

The completer reads a line the way the engine will run it (steps split on ``;`` outside
quotes, names resolved by unique case-insensitive prefix, ``cd`` paths, ``emu`` and
``help``) but never runs anything: the levels that earlier steps enter are walked on the
tree only, so TAB cannot change the configuration or the current level.
"""
from __future__ import annotations

import shlex
from typing import Iterable, Iterator, Union

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from cli_contexts.schema import Command, Context
from xsp.cli.engine import GLOBALS, Engine, split_steps

# What the first word of a step names: a level, a command of the level, or a global
# command by its name ("cd", "help", "exit", "quit", "emu").
Target = Union[Context, Command, str]


class CLICompleter(Completer):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get_completions(self, document: Document,
                        complete_event: CompleteEvent) -> Iterator[Completion]:
        *before, current = split_steps(document.text_before_cursor, keep_empty=True)
        context = self._context_after(before)
        if context is None:
            return  # the engine would stop at an earlier step and never reach this one
        words = _words(current)
        raw, word = words[-1]
        for candidate in self.candidates(context, [value for _, value in words]):
            # Quoting keeps a value with a space (a file path) one word for the engine.
            yield Completion(shlex.quote(candidate), start_position=-len(raw),
                             display=_tail(candidate))

    def _context_after(self, steps: list[str]) -> Context | None:
        """Where the earlier steps of the line would leave us; None where one would fail."""
        context = self.engine.context
        for step in steps:
            words = [value for _, value in _words(step) if value]
            if not words:
                continue
            head, args = words[0], words[1:]
            if _is_path(head):
                reached = _walk(context, head) if not args else None
            else:
                target = _resolve(head, context)
                if isinstance(target, Context):
                    reached = target if not args else None
                elif target == "cd":
                    reached = _walk(context, args[0] if args else "/") if len(args) <= 1 else None
                elif target in ("exit", "quit") or target is None:
                    reached = None  # a question (or an error) ends the line here
                else:
                    reached = context  # a command or help: the level stays
            if reached is None:
                return None
            context = reached
        return context

    def candidates(self, context: Context, words: list[str]) -> list[str]:
        """Values for the last of ``words`` (unquoted), at ``context``."""
        word = words[-1]
        if len(words) == 1:
            if _is_path(word):
                return self._paths(context, word)
            return _match(word, [*context.children, *context.commands, *_globals(context)])
        head = words[0]
        if _is_path(head):
            return []  # the engine takes a path alone as `cd PATH`
        target = _resolve(head, context)
        if target == "cd":
            return self._paths(context, word) if len(words) == 2 else []
        if target == "emu":
            return self._emulator(words[1:])
        if target == "help":
            return self._help(context, words[1:])
        if isinstance(target, Command):
            return self._params(target, words[1:])
        return []

    def _emulator(self, args: list[str]) -> list[str]:
        commands = self.engine.emulator.commands
        if len(args) == 1:
            return _match(args[0], commands)
        command = _pick(args[0], list(commands.items()))
        return self._params(command, args[1:]) if isinstance(command, Command) else []

    def _help(self, context: Context, args: list[str]) -> list[str]:
        if len(args) == 1:
            return _match(args[0], [*context.commands, *context.children, *_globals(context)])
        # As the engine reads it: only the exact word `emu` opens the emulator commands.
        if len(args) == 2 and args[0].lower() == "emu":
            return _match(args[1], self.engine.emulator.commands)
        return []

    def _params(self, command: Command, args: list[str]) -> list[str]:
        """The value or keyword due next, walking the typed words as binding.bind does."""
        word, done = args[-1], list(args[:-1])
        keywords = {p.keyword.lower(): p for p in command.params if p.keyword}
        positional = [p for p in command.params if not p.keyword]
        for param in positional:
            if not done:
                offered = param.type.complete(word, self.engine.sources)
                if param.optional:
                    offered += _match(word, [p.keyword for p in keywords.values()])
                return offered
            if param.optional and _keyword(done[0], keywords):
                continue  # an optional positional left out before the keywords
            done.pop(0)
        used: set[str] = set()
        expecting = None
        for typed in done:
            if expecting is not None:
                expecting = None
                continue
            key = _keyword(typed, keywords)
            if key is None:
                return []  # a word the engine will refuse: nothing sensible follows
            used.add(key)
            # `keyFile/tmp/k`, glued as the guide prints it, carries its own value.
            if typed.lower() == key:
                expecting = keywords[key]
        if expecting is not None:
            return expecting.type.complete(word, self.engine.sources)
        return _match(word, [p.keyword for k, p in keywords.items() if k not in used])

    def _paths(self, context: Context, word: str) -> list[str]:
        head, slash, last = word.rpartition("/")
        base = _walk(context, head + slash) if slash else context
        if base is None:
            return []
        return [head + slash + name for name in _match(last, [*base.children, ".."])]


def _words(text: str) -> list[tuple[str, str]]:
    """Each word as typed and as shlex reads it; an empty last word after a space.

    The typed form sets how much a completion replaces, the read form is what is
    matched: `"TLSv1.` (an open quote) is matched as `TLSv1.` and replaced whole.
    """
    words: list[tuple[str, str]] = []
    raw: list[str] = []
    value: list[str] = []
    quote = ""
    for ch in text:
        if quote:
            raw.append(ch)
            if ch == quote:
                quote = ""
            else:
                value.append(ch)
        elif ch in "'\"":
            quote = ch
            raw.append(ch)
        elif ch.isspace():
            if raw:
                words.append(("".join(raw), "".join(value)))
                raw, value = [], []
        else:
            raw.append(ch)
            value.append(ch)
    words.append(("".join(raw), "".join(value)))
    return words


def _match(word: str, names: Iterable[str]) -> list[str]:
    low = word.lower()
    return [n for n in names if n.lower().startswith(low)]


def _globals(context: Context) -> list[str]:
    return [g for g in GLOBALS if g not in context.commands]


def _resolve(word: str, context: Context) -> Target | None:
    """What the engine runs for ``word`` at ``context``; None when unknown or ambiguous."""
    named: list[tuple[str, Target]] = [*context.children.items(), *context.commands.items(),
                                       *((g, g) for g in _globals(context))]
    return _pick(word, named)


def _pick(word: str, named: list[tuple[str, Target]]) -> Target | None:
    # An exact name wins over longer names it prefixes, as in the engine.
    low = word.lower()
    hits = [t for n, t in named if n.lower() == low] or [t for n, t in named if n.lower().startswith(low)]
    return hits[0] if len(hits) == 1 else None


def _keyword(word: str, keywords: dict[str, object]) -> str | None:
    """The keyword ``word`` gives, alone or glued to a path (binding accepts both)."""
    low = word.lower()
    if low in keywords:
        return low
    for key in keywords:
        if low.startswith(key) and word[len(key):].startswith(("/", ".", "~")):
            return key
    return None


def _is_path(word: str) -> bool:
    # The engine runs `..`, `/` and anything with a slash as a cd.
    return word in ("..", "/") or "/" in word or word.startswith(".")


def _walk(context: Context, path: str) -> Context | None:
    """The level ``path`` names from ``context``, abbreviations allowed; None if none."""
    if path.startswith("/"):
        while context.parent is not None:
            context = context.parent
    for part in filter(None, path.split("/")):
        if part == "..":
            context = context.parent or context
            continue
        # A path names levels only, so a command sharing a prefix does not make it ambiguous.
        target = _pick(part, list(context.children.items()))
        if not isinstance(target, Context):
            return None
        context = target
    return context


def _tail(candidate: str) -> str:
    """The menu shows the last name of a path, as shells do; the line gets the whole path."""
    trimmed = candidate.rstrip("/")
    if "/" not in trimmed:
        return candidate
    return trimmed.rsplit("/", 1)[1] + candidate[len(trimmed):]
