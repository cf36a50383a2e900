"""Completion of levels, commands and parameter values for the prompt_toolkit shell.

The completer reads a line the way the engine will run it (steps split on ``;`` outside
quotes, names resolved by unique case-insensitive prefix, ``cd`` paths, ``emu`` and
``help``) but never runs anything: the levels that earlier steps enter are walked on the
tree only, so TAB cannot change the configuration or the current level.
"""
from __future__ import annotations

import shlex
from typing import Iterator

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from xsp_cli_contexts.schema import Command, Context
from xsp.cli.actions import CommandError
from xsp.cli.engine import Engine
from xsp.cli.grammar import (Target, completions, globals_at, is_path, keyword_of,
                             may_become_path, named_at, split_steps, unique, walk)


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
        offered = self.candidates(context, [value for _, value in words])
        for candidate in offered:
            # Quoting keeps a value with a space (a file path) one word for the engine.
            text = shlex.quote(candidate)
            if len(offered) == 1 and not candidate.endswith("/") \
                    and not self._is_path(context, words):
                # A unique match is complete: the space lets the next word start at once,
                # as bwcli does. A level path or a directory still goes on after its slash.
                text += " "
            yield Completion(text, start_position=-len(raw), display=_tail(candidate))

    @staticmethod
    def _is_path(context: Context, words: list[tuple[str, str]]) -> bool:
        """The word being typed is a level path, which may go on below the level named."""
        if len(words) == 1:
            return may_become_path(words[0][1])
        return len(words) == 2 and _resolve(words[0][1], context) == "cd"

    def _context_after(self, steps: list[str]) -> Context | None:
        """Where the earlier steps of the line would leave us; None where one would fail."""
        context = self.engine.context
        for step in steps:
            words = [value for _, value in _words(step) if value]
            if not words:
                continue
            head, args = words[0], words[1:]
            if is_path(head):
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
            if may_become_path(word):
                return self._paths(context, word)
            return completions(word, [*context.children, *context.commands, *globals_at(context)])
        head = words[0]
        if is_path(head):
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
            return completions(args[0], commands)
        command = unique(args[0], commands.items())
        return self._params(command, args[1:]) if isinstance(command, Command) else []

    def _help(self, context: Context, args: list[str]) -> list[str]:
        if len(args) == 1:
            return completions(args[0], [*context.commands, *context.children, *globals_at(context)])
        # As the engine reads it: only the exact word `emu` opens the emulator commands.
        if len(args) == 2 and args[0].lower() == "emu":
            return completions(args[1], self.engine.emulator.commands)
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
                    offered += completions(word, [p.keyword for p in keywords.values() if p.keyword])
                return offered
            if param.optional and keyword_of(done[0], keywords):
                continue  # an optional positional left out before the keywords
            done.pop(0)
        used: set[str] = set()
        expecting = None
        for typed in done:
            if expecting is not None:
                expecting = None
                continue
            hit = keyword_of(typed, keywords)
            if hit is None:
                return []  # a word the engine will refuse: nothing sensible follows
            key, glued = hit
            used.add(key)
            # `keyFile/tmp/k`, glued as the guide prints it, carries its own value.
            if glued is None:
                expecting = keywords[key]
        if expecting is not None:
            return expecting.type.complete(word, self.engine.sources)
        return completions(word, [p.keyword for k, p in keywords.items()
                                  if k not in used and p.keyword])

    def _paths(self, context: Context, word: str) -> list[str]:
        head, slash, last = word.rpartition("/")
        base = _walk(context, head + slash) if slash else context
        if base is None:
            return []
        return [head + slash + name for name in completions(last, [*base.children, ".."])]


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


def _resolve(word: str, context: Context) -> Target | None:
    """What the engine runs for ``word`` at ``context``; None when unknown or ambiguous."""
    return unique(word, named_at(context))


def _walk(context: Context, path: str) -> Context | None:
    """The level ``path`` names from ``context``; None where the engine would refuse it."""
    try:
        return walk(context, path)
    except CommandError:
        return None


def _tail(candidate: str) -> str:
    """The menu shows the last name of a path, as shells do; the line gets the whole path."""
    trimmed = candidate.rstrip("/")
    if "/" not in trimmed:
        return candidate
    return trimmed.rsplit("/", 1)[1] + candidate[len(trimmed):]
