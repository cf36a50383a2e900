"""Completion of levels, commands and parameter values for the prompt_toolkit shell."""
from __future__ import annotations

import shlex
from typing import Iterable

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from cli_contexts.schema import Command, Context
from xsp.cli.engine import GLOBALS, Engine


def _words(text: str) -> list[str]:
    try:
        words = shlex.split(text)
    except ValueError:
        words = text.split()
    if not text or text[-1].isspace():
        words.append("")
    return words


def _match(word: str, names: Iterable[str]) -> list[str]:
    low = word.lower()
    return [n for n in names if n.lower().startswith(low)]


class CLICompleter(Completer):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _context_after(self, steps: list[str]) -> Context:
        """Where the earlier steps of the line would leave us, without running anything."""
        context = self.engine.context
        for step in steps:
            words = _words(step.strip())
            head = words[0] if words else ""
            if head.lower() == "cd" or "/" in head or head == "..":
                path = words[1] if head.lower() == "cd" and len(words) > 1 else head
                context = _walk(self.engine.tree.root if path.startswith("/") else context, path)
            else:
                hits = _match(head, context.children)
                exact = [h for h in hits if h.lower() == head.lower()]
                if len(exact or hits) == 1:
                    context = context.children[(exact or hits)[0]]
        return context

    def get_completions(self, document: Document, complete_event: CompleteEvent):
        *before, current = document.text_before_cursor.split(";")
        context = self._context_after(before)
        words = _words(current.lstrip())
        word = words[-1]
        for candidate in self.candidates(context, words):
            yield Completion(candidate, start_position=-len(word))

    def candidates(self, context: Context, words: list[str]) -> list[str]:
        word = words[-1]
        if len(words) == 1:
            names = [*context.children, *context.commands,
                     *(g for g in GLOBALS if g not in context.commands)]
            return _match(word, names)
        head = words[0].lower()
        if head == "cd":
            return self._paths(context, word) if len(words) == 2 else []
        if head == "emu" or "emu".startswith(head) and len(head) >= 2:
            emulator = self.engine.emulator
            if len(words) == 2:
                return _match(word, emulator.commands)
            command = _unique(words[1], emulator.commands)
            return self._params(command, words[2:]) if command else []
        if "help".startswith(head):
            return _match(word, [*context.commands, *context.children, "emu"]) if len(words) == 2 else []
        command = _unique(words[0], context.commands)
        return self._params(command, words[1:]) if command else []

    def _params(self, command: Command, args: list[str]) -> list[str]:
        word, done = args[-1], args[:-1]
        positional = [p for p in command.params if not p.keyword]
        keywords = {p.keyword: p for p in command.params if p.keyword}
        if len(done) < len(positional):
            return positional[len(done)].type.complete(word, self.engine.sources)
        extra = done[len(positional):]
        if extra and extra[-1] in keywords and len(extra) % 2 == 1:
            return keywords[extra[-1]].type.complete(word, self.engine.sources)
        used = set(extra[0::2])
        return _match(word, [k for k in keywords if k not in used])

    def _paths(self, context: Context, word: str) -> list[str]:
        head, _, last = word.rpartition("/")
        base = _walk(self.engine.tree.root if word.startswith("/") else context, head) if head or word.startswith("/") else context
        prefix = head + "/" if head or word.startswith("/") else ""
        return [prefix + name for name in _match(last, [*base.children, ".."])]


def _unique(word: str, names: dict[str, Command]) -> Command | None:
    hits = _match(word, names)
    exact = [h for h in hits if h.lower() == word.lower()]
    hits = exact or hits
    return names[hits[0]] if len(hits) == 1 else None


def _walk(context: Context, path: str) -> Context:
    for part in filter(None, path.split("/")):
        if part == "..":
            context = context.parent or context
            continue
        hits = _match(part, context.children)
        exact = [h for h in hits if h.lower() == part.lower()]
        if len(exact or hits) != 1:
            return context
        context = context.children[(exact or hits)[0]]
    return context
