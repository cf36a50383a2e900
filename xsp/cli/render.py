"""BroadWorks-style output: banner, tables, attribute lists and help pages."""
from __future__ import annotations

from typing import Iterable, Sequence

from xsp_cli_contexts.schema import Command, Context

DONE = "...Done"
RESTART_WARNING = "*** Warning: BroadWorks needs to be restarted for the changes to take effect ***"
ALREADY_PRESENT = "entry is already present in list"
NOT_FOUND = "Entry not found"
CONFIRM = "Please confirm (Yes, Y, No, N): "
ENDING = "This session is now ending..."
HELP_RULE = "=" * 70

BANNER = """\
======================================================================
BroadWorks Command Line Interface
Type HELP for more information
======================================================================"""


def not_an_answer(text: str) -> str:
    """A line read while a question waits, that answers nothing: say what it was, since in
    piped input it was most likely meant as the next command."""
    if not text:
        return "Please answer Yes, Y, No or N; the line read was empty."
    return f"Please answer Yes, Y, No or N; {text!r} was read as the answer, not run as a command."


def entries_found(count: int) -> str:
    return f"{count} {'entry' if count in (0, 1) else 'entries'} found."


def about_to_access(count: int) -> str:
    """The question bwcli asks before a large list."""
    return f"About to access {count} entries. Continue? {CONFIRM}"


class Table(list[str]):
    """The lines of a list, knowing how many entries it holds (the engine asks before
    showing a large one)."""

    def __init__(self, lines: Iterable[str], entries: int) -> None:
        super().__init__(lines)
        self.entries = entries


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> Table:
    """Right-aligned columns as wide as their widest value or header, two spaces apart,
    a `=` underline as wide as the table, the rows, a blank line, the count and a blank
    line after it, as the BroadWorks CLI prints them."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row)]

    def line(values: Sequence[str]) -> str:
        return "  " + "  ".join(v.rjust(w) for v, w in zip(values, widths))

    out = [line(headers), "=" * (2 + sum(widths) + 2 * (len(widths) - 1))]
    out.extend(line(row) for row in cells)
    out.extend(["", entries_found(len(cells)), ""])
    return Table(out, len(cells))


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def attributes(pairs: Sequence[tuple[str, object]]) -> list[str]:
    width = max((len(name) for name, _ in pairs), default=0)
    return [f"  {name.rjust(width)} = {_cell(value)}" for name, value in pairs]


def _section(title: str, lines: list[str]) -> list[str]:
    return ["", title, "=" * len(title), *lines] if lines else []


def _listing(items: Iterable[tuple[str, str]]) -> list[str]:
    items = list(items)
    width = max((len(name) for name, _ in items), default=0)
    return [f"  {name.ljust(width)}  {_first_sentence(text)}".rstrip() for name, text in items]


def _first_sentence(text: str) -> str:
    text = " ".join(text.split())
    return text.split(". ")[0].rstrip(".")


GLOBAL_HELP = (
    ("cd", "Changes the current level: cd /Interface/CTI, cd .., cd / (levels and commands abbreviate)"),
    ("help", "Shows the commands of this level, or help <command> for one command"),
    ("exit", "Ends this session, after confirmation (also quit)"),
    ("quit", "Ends this session, after confirmation (also exit)"),
)


def context_help(context: Context, emulator: Context) -> list[str]:
    out = [" ".join(context.help.split())] if context.help else []
    out += _section("Commands from this level",
                    _listing((c.name, c.help) for c in context.commands.values()))
    out += _section("Levels from this level",
                    _listing((c.name, c.help) for c in context.children.values()))
    out += _section("Global commands", _listing(GLOBAL_HELP))
    title = "Emulator commands (xsp only, not part of BroadWorks)"
    out += _section(title, [f"  emu {name}" for name in emulator.commands] +
                    ["  Type help emu for a description of each."])
    return out


def emulator_help(emulator: Context) -> list[str]:
    out = [" ".join(emulator.help.split())]
    out += _section("Emulator commands (xsp only, not part of BroadWorks)",
                    _listing((f"emu {c.name}", c.help) for c in emulator.commands.values()))
    return out


def command_help(command: Command, prefix: str = "") -> list[str]:
    out = [" ".join(command.help.split()), ""]
    if command.params:
        width = max(len(p.name) for p in command.params)
        out.append("Parameters description:")
        out.extend(f"{p.name.ljust(width)}: {' '.join(p.help.split())}" for p in command.params)
    out.append(HELP_RULE)
    out.append(prefix + command.name)
    for p in command.params:
        if p.keyword:
            out.append(f"  {p.keyword}")
            out.append(f"    {p.syntax()}")
        else:
            out.append(f"  {p.syntax()}")
    return out


def usage(command: Command) -> str:
    words = [command.name]
    for p in command.params:
        word = f"{p.keyword} <{p.name}>" if p.keyword else f"<{p.name}>"
        words.append(f"[{word}]" if p.optional else word)
    return " ".join(words)
