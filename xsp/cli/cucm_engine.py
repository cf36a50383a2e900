"""The CLI engine of a CUCM node: the ``admin:`` platform CLI, the CM Administration pages
(``ccmadmin <page> <verb>``) and the emulator's ``emu`` commands. A line in, a result out.

Platform commands are typed in full, as on CUCM. A command whose real counterpart asks
a question (``utils ctl set-cluster mixed-mode``) checks its parameters first, then
asks; the next line answers, and only ``y``/``yes`` goes ahead.
"""
from __future__ import annotations

import logging
import shlex
from typing import TYPE_CHECKING, Callable

from xsp_cli_contexts.cucm import Page, load_pages, load_platform
from xsp_cli_contexts.schema import Command, Context, load_emulator_commands
from xsp_cli_contexts.types import ParamError
from xsp.cli import render
from xsp.cli.actions import ACTIONS, ActionContext, CommandError
# The CUCM actions register themselves as they are imported.
from xsp.cli.actions import cucmpages  # noqa: F401
from xsp.cli.actions.cucm import PRECHECKS
from xsp.cli.binding import bind
from xsp.cli.engine import NodeControl, _complete_path
from xsp.cli.lines import RecordingEngine, Result, not_text
from xsp.cli.grammar import pick
from xsp.config.model import Node
from xsp.config.store import Store

if TYPE_CHECKING:
    from prompt_toolkit.completion import NestedCompleter

    from xsp.cli.transcript import Recorder

log = logging.getLogger("xsp.cli")

PAGES_WORD = "ccmadmin"
BANNER = """\
Command Line Interface is starting up, please wait ...

   Welcome to the Platform Command Line Interface
"""


class CucmEngine(RecordingEngine):
    def __init__(self, store: Store, node_name: str, control: NodeControl,
                 recorder: "Recorder | None" = None) -> None:
        self.store = store
        self.node_name = node_name
        self.control = control
        self.recorder = recorder
        self.platform = load_platform()
        self.pages_help, self.pages = load_pages()
        common = load_emulator_commands()
        self.emulator = Context(common.name, common.help, commands={
            **common.commands, **{c.name: c for c in self.platform.emulator_commands}})
        self.finished = False
        self.banner = BANNER
        self._typed = ""  # the line being run, as pending restarts record it
        self._pending: tuple[str, Callable[[str], Result]] | None = None

    @property
    def node(self) -> Node:
        return self.store.load().node(self.node_name)

    @property
    def awaiting_answer(self) -> bool:
        return self._pending is not None

    @property
    def prompt(self) -> str:
        return self._pending[0] if self._pending is not None else self.platform.prompt

    def cancel_question(self) -> None:
        """Drop the question that waits, as if answered no (Ctrl-C at it)."""
        self._pending = None

    def sources(self, name: str) -> list[str]:
        cucm = self.node.cucm_settings
        if name == "cucm_certificates":
            return [c.name for c in cucm.certificates]
        if name == "cucm_app_users":
            return [u.user_id for u in cucm.application_users]
        if name == "cucm_end_users":
            return [u.user_id for u in cucm.end_users]
        if name == "cucm_users":
            return [u.user_id for u in [*cucm.application_users, *cucm.end_users]]
        if name == "cucm_groups":
            return cucm.groups()
        if name == "cucm_phones":
            return [p.device_name for p in cucm.phones]
        if name.startswith("files:"):
            return _complete_path(name[len("files:"):])
        return []

    # --- execution -------------------------------------------------------------------

    def _execute(self, line: str) -> Result:
        refused = not_text(line)
        if refused is not None:
            return refused
        if self._pending is not None:
            (_, answer), self._pending = self._pending, None
            return answer(line.strip())
        try:
            return Result(self._line(line))
        except CommandError as exc:
            return Result(str(exc).splitlines(), ok=False)
        except Exception as exc:  # a bug must not end the user's session
            log.exception("command failed: %s", line)
            return Result([f"Error: internal error ({type(exc).__name__}: {exc}); nothing was changed"],
                          ok=False)

    def _line(self, line: str) -> list[str]:
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise CommandError(f"Error: cannot read the line: {exc}") from None
        if not words:
            return []
        head, args = words[0].lower(), words[1:]
        self._typed = line.strip()
        if head == "help":
            return self._help(args)
        if head in ("exit", "quit"):
            self.finished = True
            return []
        if head == "emu":
            if not args:
                return render.emulator_help(self.emulator)
            command = pick(args[0], self.emulator.commands.items(), "emulator command")
            return self._run(command, args[1:])
        if head == PAGES_WORD:
            return self._page(args)
        match = self.platform.match(words)
        if match is None:
            raise CommandError(f"Executed command unsuccessfully\nError: unknown command: {line.strip()} "
                               "(help lists the commands)")
        platform, rest = match
        if platform.confirm is None:
            return self._run(platform.command, rest)
        bound = self._bind(platform.command, rest)
        precheck = PRECHECKS.get(platform.command.action)
        if precheck is not None:
            answered = precheck(self._context(None), platform.command, bound)
            if answered:
                return answered

        typed = self._typed

        def answer(text: str) -> Result:
            self._typed = typed
            if text.lower() not in ("y", "yes"):
                return Result(["Cancelled: nothing was changed."])
            try:
                return Result(self._act(platform.command, bound))
            except CommandError as exc:
                return Result(str(exc).splitlines(), ok=False)

        self._pending = (platform.confirm, answer)
        return []

    def _page(self, args: list[str]) -> list[str]:
        if not args:
            return self._pages_help()
        page = pick(args[0], self.pages.items(), "CM Administration page")
        if len(args) == 1:
            return self._page_help(page)
        commands = page.commands()
        command = pick(args[1], commands.items(), f"action of {page.name}")
        return self._run(command, args[2:], page)

    def _bind(self, command: Command, args: list[str]) -> dict:
        try:
            return bind(command, args, self.sources).values
        except ParamError as exc:
            raise CommandError(f"Error: {exc}") from None

    def _run(self, command: Command, args: list[str], page: Page | None = None) -> list[str]:
        return self._act(command, self._bind(command, args), page)

    def _context(self, page: Page | None, line: str = "") -> ActionContext:
        actx = ActionContext(store=self.store, node_name=self.node_name, control=self.control,
                             context_path=page.name if page else "admin", line=line,
                             engine=self)  # type: ignore[arg-type]
        actx.page = page  # type: ignore[attr-defined]
        return actx

    def _act(self, command: Command, values: dict, page: Page | None = None) -> list[str]:
        return ACTIONS[command.action](self._context(page, self._typed), command, values)

    def completer(self) -> "NestedCompleter":
        """Command words, pages and their verbs and keywords, for TAB on a terminal."""
        from prompt_toolkit.completion import NestedCompleter

        tree: dict = {}
        for platform in self.platform.commands:
            level = tree
            for word in platform.words:
                level = level.setdefault(word, {})
        tree[PAGES_WORD] = {name: {verb: {p.keyword: None for p in command.params if p.keyword} or None
                                   for verb, command in page.commands().items()}
                            for name, page in self.pages.items()}
        tree["emu"] = {name: None for name in self.emulator.commands}
        tree["help"] = None
        tree["exit"] = None
        return NestedCompleter.from_nested_dict(tree)

    # --- help ------------------------------------------------------------------------

    def _help(self, args: list[str]) -> list[str]:
        if args and args[0].lower() == PAGES_WORD:
            return self._page(args[1:2])
        if args and args[0].lower() == "emu":
            return render.emulator_help(self.emulator)
        if args:
            match = self.platform.match(args)
            if match is not None:
                return render.command_help(match[0].command)
        width = max(len(render.usage(c.command)) for c in self.platform.commands)
        lines = ["Platform commands (admin:):"]
        lines += [f"  {render.usage(c.command).ljust(width)}  {c.command.help}" for c in self.platform.commands]
        lines += ["", *self._pages_help(), "", "Emulator commands (not part of CUCM): type help emu"]
        return lines

    def _pages_help(self) -> list[str]:
        width = max(len(name) for name in self.pages)
        return [f"{PAGES_WORD} <page> <action>: {self.pages_help}",
                *(f"  {name.ljust(width)}  {page.title} ({page.menu})" for name, page in self.pages.items())]

    def _page_help(self, page: Page) -> list[str]:
        lines = [f"{page.title} ({page.menu}); fields:"]
        width = max((len(f.name) for f in page.fields), default=0)
        lines += [f"  {f.name.ljust(width)}  {f.label}: {f.param.type.describe()}" for f in page.fields]
        lines.append("Actions:")
        lines += [f"  {PAGES_WORD} {page.name} {render.usage(c)}" for c in page.commands().values()]
        return lines
