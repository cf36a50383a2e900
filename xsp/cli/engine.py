"""The CLI engine: a line in, a result out. It never touches a terminal.

A line holds one or more steps separated by ``;``. A step is a level to enter
(``Interface``, ``int``, ``cd /Interface/CTI``, ``..``), a command of the current level
(``get``, ``g``, ``add 10.0.0.1 TLSv1.2``), a global command (``help``, ``exit``) or an
emulator command (``emu restart``). Names abbreviate to any unique case-insensitive
prefix. The first failing step stops the line; a failing step changes nothing.
"""
from __future__ import annotations

import logging
import shlex
from typing import TYPE_CHECKING, Callable, Protocol

from xsp_cli_contexts.schema import Command, Context, Tree, load_emulator_commands, load_tree
from xsp_cli_contexts.types import ParamError
from xsp.cli import render
from xsp.cli.actions import ACTIONS, ActionContext, CommandError
# Each module registers its actions in ACTIONS as it is imported.
from xsp.cli.actions import attrs, certificates, cti, emulator, lists  # noqa: F401
from xsp.cli.binding import bind
from xsp.cli.grammar import is_path, named_at, pick, split_steps, walk
from xsp.cli.lines import RecordingEngine, Result, not_text
from xsp.config.model import Node
from xsp.config import statedir
from xsp.config.store import ConfigFileError, Store

if TYPE_CHECKING:
    from xsp.cli.transcript import Recorder

log = logging.getLogger("xsp.cli")

# Lists longer than this ask "About to access N entries. Continue?" first. BroadWorks
# does not publish its threshold; 100 is the emulator's choice.
LIST_CONFIRM_THRESHOLD = 100


class NodeControl(Protocol):
    """What the emulator commands ask of the running node.

    The engine is given one (``xsp.node.managed`` for a real node); the CLI never builds
    it. ``errors`` are the refusals it raises, each one line; the emulator commands turn
    them into command errors.
    """

    errors: tuple[type[Exception], ...]

    def restart(self, store: Store, node_name: str) -> list[str]: ...

    def status(self, store: Store, node_name: str) -> list[str]: ...


class Engine(RecordingEngine):
    def __init__(self, store: Store, node_name: str | None = None,
                 control: NodeControl | None = None, recorder: "Recorder | None" = None) -> None:
        if control is None:
            # The CLI does not know how to reach a node; its caller does.
            raise TypeError("Engine needs its node control")
        self.store = store
        deployment = store.load()
        if node_name is None:
            node_name = deployment.first_cti_node().name
        try:
            deployment.node(node_name)
        except KeyError:
            known = ", ".join(n.name for n in deployment.nodes)
            raise ValueError(f"no node named {node_name!r} in this state (nodes: {known})") from None
        self.node_name = node_name
        self.control = control
        self.tree: Tree = load_tree(self.node.kind)
        self.emulator: Context = load_emulator_commands()
        self.context: Context = self.tree.root
        self.finished = False
        self.recorder: "Recorder | None" = recorder
        self.list_confirm_threshold = LIST_CONFIRM_THRESHOLD
        # Set while a question waits for its answer: the next line answers it.
        self._pending: Callable[[str], Result] | None = None
        self._question = render.CONFIRM

    # --- state -----------------------------------------------------------------------

    @property
    def node(self) -> Node:
        return self.store.load().node(self.node_name)

    @property
    def awaiting_answer(self) -> bool:
        """A question (exit's confirmation, a large list's) waits: the next line answers it."""
        return self._pending is not None

    @property
    def prompt(self) -> str:
        if self._pending is not None:
            return self._question
        path = self.context.path
        return f"{self.node.prompt_name}{'/' + path if path else ''}> "

    def sources(self, name: str) -> list[str]:
        """Configured values for parameter validation and completion."""
        deployment = self.store.load()
        node = deployment.node(self.node_name)
        if name == "cti_interfaces" and node.xsp:
            return [s.ip for s in node.xsp.cti_servers]
        if name == "trust_aliases" and node.xsp:
            return [t.alias for t in node.xsp.trusts]
        if name == "client_identities":
            return list(deployment.client_identities)
        if name == "users":
            return [u.user_id for u in deployment.users]
        if name.startswith("files:"):
            return _complete_path(name[len("files:"):])
        return []

    def cancel_question(self) -> None:
        """Drop the question that waits, as if answered No (Ctrl-C at exit's confirmation:
        no exit; at a large list's: no list)."""
        self._pending = None

    # --- execution -------------------------------------------------------------------

    def _execute(self, line: str) -> Result:
        refused = not_text(line)
        if refused is not None:
            return refused
        if self._pending is not None:
            answer, self._pending = self._pending, None
            return answer(line.strip())
        result = Result()
        for step in split_steps(line):
            try:
                lines = self._step(step)
            except CommandError as exc:
                result.lines.append(str(exc))
                result.ok = False
                break
            except (ConfigFileError, OSError) as exc:
                # The state cannot be read or written (a full disk, a permission): what,
                # where and what to do, in one line, not an internal error.
                why = statedir.os_error(exc, "use the state") if isinstance(exc, OSError) else exc
                log.warning("command failed: %s: %s", step, why)
                result.lines.append(f"Error: nothing was changed: {why}")
                result.ok = False
                break
            except Exception as exc:  # a bug must not end the user's session
                log.exception("command failed: %s", step)
                result.lines.append(f"Error: internal error ({type(exc).__name__}: {exc}); "
                                    "nothing was changed")
                result.ok = False
                break
            result.lines.extend(lines)
            if self._pending is not None or self.finished:
                break
        return result

    def _step(self, step: str) -> list[str]:
        try:
            words = shlex.split(step)
        except ValueError as exc:
            raise CommandError(f"Error: cannot read the line: {exc}") from None
        if not words:
            return []
        head, args = words[0], words[1:]
        if is_path(head):
            return self._cd([head, *args])
        target = pick(head, named_at(self.context), "command or level")
        if isinstance(target, Context):
            if args:
                raise CommandError(f"Error: {target.name} is a level; to run a command there, "
                                   f"separate it with ';' (e.g. {target.name};get)")
            self.context = target
            return []
        if isinstance(target, Command):
            return self._run(target, args, self.context)
        handler: Callable[[list[str]], list[str]] = getattr(self, "_" + target)
        return handler(args)

    def _run(self, command: Command, args: list[str], context: Context) -> list[str]:
        try:
            bound = bind(command, args, self.sources)
        except ParamError as exc:
            raise CommandError(f"Error: {exc}") from None
        action = ACTIONS[command.action]
        actx = ActionContext(store=self.store, node_name=self.node_name, control=self.control,
                             context_path=context.path, line=" ".join([command.name, *args]),
                             engine=self)
        lines = action(actx, command, bound.values)
        if isinstance(lines, render.Table) and lines.entries > self.list_confirm_threshold:
            listed = bound.notices + lines
            self._ask(render.about_to_access(lines.entries),
                      lambda: Result(listed), lambda: Result([]))
            return []
        return bound.notices + lines

    def _ask(self, question: str, yes: Callable[[], Result], no: Callable[[], Result]) -> None:
        """The next line answers ``question``: Yes, Y, No or N in any case, else asked again."""
        def answer(text: str) -> Result:
            if text.lower() in ("yes", "y"):
                return yes()
            if text.lower() in ("no", "n"):
                return no()
            self._pending, self._question = answer, question
            return Result([render.not_an_answer(text)], ok=False)

        self._pending, self._question = answer, question

    # --- global commands -------------------------------------------------------------

    def _cd(self, args: list[str]) -> list[str]:
        if len(args) > 1:
            raise CommandError("Error: cd takes one level path, e.g. cd /Interface/CTI")
        self.context = walk(self.context, args[0] if args else "/")
        return []

    def _help(self, args: list[str]) -> list[str]:
        if not args:
            return render.context_help(self.context, self.emulator)
        if args[0].lower() == "emu":
            if len(args) == 1:
                return render.emulator_help(self.emulator)
            command = pick(args[1], self.emulator.commands.items(), "emulator command")
            return render.command_help(command, prefix="emu ")
        target = pick(args[0], named_at(self.context), "command or level")
        if isinstance(target, Context):
            return render.context_help(target, self.emulator)
        if isinstance(target, Command):
            return render.command_help(target)
        return [dict(render.GLOBAL_HELP).get(target, "Emulator commands: type help emu")]

    def _exit(self, args: list[str]) -> list[str]:
        def leave() -> Result:
            self.finished = True
            return Result([render.ENDING])

        self._ask(render.CONFIRM, leave, lambda: Result([]))
        return []

    _quit = _exit

    def _emu(self, args: list[str]) -> list[str]:
        if not args:
            return render.emulator_help(self.emulator)
        command = pick(args[0], self.emulator.commands.items(), "emulator command")
        return self._run(command, args[1:], self.context)


def _complete_path(prefix: str) -> list[str]:
    import glob
    import os
    matches = glob.glob(glob.escape(os.path.expanduser(prefix)) + "*")
    return sorted(m + "/" if os.path.isdir(m) else m for m in matches)[:200]
