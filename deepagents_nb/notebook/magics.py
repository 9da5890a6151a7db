"""`%%agent` and `%agent`: talk to an agent from a notebook cell.

    %load_ext deepagents_nb

    %%agent -a my_agent -t research
    Summarise {topic} in three bullet points.

`%agent help` lists the line commands (threads, usage, todos, files, reset,
approve, reject).
"""

from __future__ import annotations

import argparse
import shlex
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.display import display

from deepagents_nb.agent import DeepAgent
from deepagents_nb.background import RunHandle
from deepagents_nb.display import FilesView, TodoView
from deepagents_nb.exceptions import ConfigurationError, HitlError, MissingAPIKeyError
from deepagents_nb.hitl import HitlAction
from deepagents_nb.messages import Image, UserContent
from deepagents_nb.notebook.plain import PlainPrinter
from deepagents_nb.results import AgentResult

DEFAULT_STORE = Path(".deepagents") / "threads.db"
COMMANDS = (
    "threads",
    "usage",
    "todos",
    "files",
    "code",
    "reset",
    "approve",
    "reject",
    "export",
    "mcp",
)

LINE_HELP = """%agent COMMAND [-a AGENT] [-t THREAD]

  threads          the agent's threads
  usage            token and cost per model request (a pandas DataFrame)
  todos            the thread's todo list
  files            the thread's virtual files
  code [--insert]  the Python the agent ran (run_python), in order; --insert puts it
                   into a new cell below
  reset            delete the thread
  approve          approve the thread's pending tool call and continue
  reject [REASON]  reject it (the model is told the reason) and continue
  export PATH VAR  copy the thread's virtual file PATH into the variable VAR
  mcp              the agent's MCP servers: status, tools, resources and prompts
  help             this text

%%agent [-a AGENT] [-t THREAD] [-m MODEL] [-o RESULT] [--no-widgets]
        [--mount VAR,VAR] [--attach VAR,VAR] [--output-type TYPE] [--map DF]
        [--background]
  The cell is the prompt; {name} is replaced by the variable `name`.
  --mount shows those variables read-only to the agent under /kernel/.
  --attach sends those variables as images with the prompt: a matplotlib
  figure, an Image, or PNG/JPEG bytes.
  --output-type TYPE ends the run with a validated TYPE (a class in the namespace):
  -o then holds the result, its .output the value, shown as a table.
  --map DF runs the cell, a template over DF's columns ({text}), on every row
  (agent.map): -o then holds the results DataFrame; run it again to resume.
  --background returns at once: other cells run while the agent works
  (-o then holds the RunHandle: .done(), .result(), .cancel())."""


class _Prompt(string.Formatter):
    """`{name}` interpolation from the notebook's namespace, with a clear error."""

    def __init__(self, namespace: Mapping[str, Any]) -> None:
        self.namespace = namespace

    def get_value(self, key: int | str, args: Any, kwargs: Any) -> Any:
        if isinstance(key, int) or key not in self.namespace:
            raise UsageError(
                f"the prompt uses {{{key}}} but no variable {key!r} is defined; "
                f"write {{{{ and }}}} for literal braces"
            )
        return self.namespace[key]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="%agent", add_help=False, exit_on_error=False)
    parser.add_argument("command", nargs="*")
    parser.add_argument("-a", "--agent")
    parser.add_argument("-t", "--thread", default="default")
    parser.add_argument("-m", "--model")
    parser.add_argument("-o", "--output")
    parser.add_argument("--no-widgets", action="store_true")
    parser.add_argument("--mount", default="")
    parser.add_argument("--attach", default="")
    parser.add_argument("--output-type", dest="output_type")
    parser.add_argument("--map", dest="map_over")
    parser.add_argument("--insert", action="store_true")
    parser.add_argument("--background", action="store_true")
    return parser


_PARSER = _parser()


def parse_options(line: str) -> argparse.Namespace:
    """Parse the magic's options; any mistake is a short `UsageError` with the help text."""
    try:
        args, unknown = _PARSER.parse_known_args(shlex.split(line))
    except (argparse.ArgumentError, ValueError, SystemExit) as exc:
        raise UsageError(f"{exc}\n\n{LINE_HELP}") from exc
    if unknown:
        raise UsageError(f"unknown option {' '.join(unknown)}\n\n{LINE_HELP}")
    return args


@magics_class
class AgentMagics(Magics):
    """The `agent` line and cell magic."""

    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self._default_agents: dict[str | None, DeepAgent] = {}

    @property
    def _namespace(self) -> dict[str, Any]:
        assert self.shell is not None
        namespace: dict[str, Any] = self.shell.user_ns
        return namespace

    @line_cell_magic
    def agent(self, line: str, cell: str | None = None) -> Any:
        """Run a prompt (cell magic) or a thread command (line magic)."""
        args = parse_options(line)
        if cell is None:
            return self._command(args)
        if args.command:
            raise UsageError(f"unexpected words before the cell: {' '.join(args.command)}")
        if args.map_over is not None:
            return self._map(args, cell.strip())
        prompt = _Prompt(self._namespace).format(cell.strip()) if cell.strip() else ""
        if not prompt:
            raise UsageError("the cell is empty: write the prompt below %%agent")
        agent = self._agent(args.agent, args.model)
        self._mount(agent, args.mount)
        images = self._images(args.attach)
        message: UserContent = [prompt, *images] if images else prompt
        output_type = self._output_type(args.output_type)
        widgets = not args.no_widgets
        outcome: Any
        if args.background:
            outcome = self._start(agent, message, args.thread, output_type, widgets=widgets)
        else:
            outcome = self._run(agent, message, args.thread, output_type, widgets=widgets)
        if args.output:
            self._namespace[args.output] = outcome
        return None

    # ----- helpers -------------------------------------------------------------------------

    def _agent(self, name: str | None, model: str | None) -> DeepAgent:
        if name is not None:
            if name not in self._namespace:
                raise UsageError(f"no variable named {name!r}; create the agent first")
            found = self._namespace[name]
            if not isinstance(found, DeepAgent):
                raise UsageError(f"{name!r} is not a DeepAgent but a {type(found).__name__}")
            return found
        if model not in self._default_agents:
            self._default_agents[model] = _default_agent(model)
        return self._default_agents[model]

    def _mount(self, agent: DeepAgent, names: str) -> None:
        wanted = [n.strip() for n in names.split(",") if n.strip()]
        missing = [n for n in wanted if n not in self._namespace]
        if missing:
            raise UsageError(f"cannot mount {', '.join(missing)}: no such variable")
        agent.mount(**{n: self._namespace[n] for n in wanted})

    def _map(self, args: Any, template: str) -> None:
        """`%%agent --map DF`: the cell is a template over DF's columns, run on every row."""
        if not template:
            raise UsageError("the cell is empty: write the prompt template below %%agent --map")
        if args.map_over not in self._namespace:
            raise UsageError(f"--map {args.map_over}: no such variable")
        agent = self._agent(args.agent, args.model)
        try:
            frame = agent.map(
                self._namespace[args.map_over],
                template,
                output_type=self._output_type(args.output_type),
                progress=not args.no_widgets,
            )
        except ConfigurationError as exc:
            raise UsageError(str(exc)) from exc
        if args.output:
            self._namespace[args.output] = frame
        else:
            display(frame)  # type: ignore[no-untyped-call]

    def _output_type(self, name: str | None) -> Any:
        if name is None:
            return None
        if name not in self._namespace:
            raise UsageError(f"--output-type {name}: no such name; define the type first")
        return self._namespace[name]

    def _images(self, names: str) -> list[Image]:
        images = []
        for name in (n.strip() for n in names.split(",") if n.strip()):
            if name not in self._namespace:
                raise UsageError(f"cannot attach {name}: no such variable")
            value = self._namespace[name]
            try:
                if isinstance(value, Image):
                    images.append(value)
                elif isinstance(value, bytes | bytearray):
                    images.append(Image.from_bytes(bytes(value), source=name))
                elif callable(getattr(value, "savefig", None)):
                    images.append(Image.from_figure(value))
                else:
                    raise ValueError(
                        f"{name} is a {type(value).__name__}; attach a matplotlib figure, an "
                        f"Image or PNG/JPEG bytes"
                    )
            except ValueError as exc:
                raise UsageError(f"cannot attach {name}: {exc}") from exc
        return images

    def _start(
        self, agent: DeepAgent, prompt: UserContent, thread: str, output_type: Any, *, widgets: bool
    ) -> RunHandle:
        if widgets:
            from deepagents_nb.notebook.widgets import RunView

            view = RunView(agent, thread)
            view.show()
            return view.start(prompt, output_type=output_type)
        handle = agent.start(prompt, thread_id=thread, output_type=output_type)
        print(f"Started in the background on thread {thread!r}; other cells can run now.")
        return handle

    def _run(
        self, agent: DeepAgent, prompt: UserContent, thread: str, output_type: Any, *, widgets: bool
    ) -> AgentResult:
        if widgets:
            from deepagents_nb.notebook.widgets import RunView

            view = RunView(agent, thread)
            view.show()
            return view.run(prompt, output_type=output_type)
        printer = PlainPrinter()
        run = agent.stream(prompt, thread_id=thread, output_type=output_type)
        for event in run:
            printer.handle(event)
        printer.finish()
        assert run.result is not None
        _print_pause_hint(run.result)
        return run.result

    def _command(self, args: Any) -> Any:
        words = list(args.command)
        command = words.pop(0) if words else "help"
        if command == "help":
            print(LINE_HELP)
            return None
        if command not in COMMANDS:
            raise UsageError(f"unknown command {command!r}; try %agent help")
        agent = self._agent(args.agent, args.model)
        thread = args.thread
        if command == "threads":
            return agent.list_threads()
        if command == "usage":
            return agent.usage.to_dataframe()
        if command == "todos":
            return TodoView(agent.get_state(thread).todos)
        if command == "files":
            return FilesView(agent.get_state(thread).files)
        if command == "mcp":
            from deepagents_nb.mcp import mcp_report

            return mcp_report(agent)
        if command == "export":
            return self._export(agent, thread, words)
        if command == "code":
            return self._code(agent, thread, insert=args.insert)
        if command == "reset":
            agent.delete_thread(thread)
            print(f"Thread {thread!r} deleted.")
            return None
        action = (
            HitlAction.accept()
            if command == "approve"
            else HitlAction.reject(reason=" ".join(words) or None)
        )
        return self._resume(agent, action, thread)

    def _export(self, agent: DeepAgent, thread: str, words: list[str]) -> None:
        if len(words) != 2 or not words[1].isidentifier():
            raise UsageError("usage: %agent export PATH VARIABLE [-a AGENT] [-t THREAD]")
        path, variable = words
        files = agent.get_state(thread).files
        key = path if path in files else "/" + path.lstrip("/")
        if key not in files:
            known = ", ".join(sorted(files)) or "none"
            raise UsageError(f"thread {thread!r} has no file {path!r} (files: {known})")
        # The one way agent output reaches the kernel: an explicit, named copy.
        self._namespace[variable] = files[key]
        print(f"{variable} = text of {key} ({len(files[key])} characters)")

    def _code(self, agent: DeepAgent, thread: str, *, insert: bool) -> None:
        from deepagents_nb.kernel.history import as_script, code_cells

        cells = code_cells(agent.get_state(thread).messages)
        if not cells:
            print(f"The agent ran no Python on thread {thread!r}.")
            return
        script = as_script(cells)
        if insert:
            assert self.shell is not None
            self.shell.set_next_input(script, replace=False)
        else:
            print(script)

    def _resume(self, agent: DeepAgent, action: HitlAction, thread: str) -> None:
        if agent.current_interrupt(thread) is None:
            raise UsageError(f"thread {thread!r} has no pending approval")
        printer = PlainPrinter()
        try:
            run = agent.stream_resume(action, thread_id=thread)
            for event in run:
                printer.handle(event)
        except HitlError as exc:
            raise UsageError(str(exc)) from exc
        printer.finish()
        assert run.result is not None
        _print_pause_hint(run.result)
        if not run.result.interrupt:
            display(run.result)  # type: ignore[no-untyped-call]


def _print_pause_hint(result: AgentResult) -> None:
    if result.interrupt is not None:
        print(
            f"{result.interrupt}\n  arguments: {result.interrupt.tool_args}\n"
            f"  answer with: %agent approve   or   %agent reject REASON"
            + (f"   (-t {result.thread_id})" if result.thread_id != "default" else "")
        )


def _default_agent(model_spec: str | None) -> DeepAgent:
    """The built-in agent: the default (or given) model, threads kept in .deepagents/."""
    from deepagents_nb.builder import create_deep_agent
    from deepagents_nb.models.registry import get_default_model, resolve_model
    from deepagents_nb.persistence.sqlite import SqliteCheckpointer

    try:
        model = resolve_model(model_spec) if model_spec else get_default_model()
    except MissingAPIKeyError as exc:
        raise UsageError(f"{exc} Or pass your own agent with -a.") from exc
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    DEFAULT_STORE.parent.mkdir(exist_ok=True)
    return create_deep_agent(model=model, checkpointer=SqliteCheckpointer(DEFAULT_STORE))


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext deepagents_nb` registers the magics."""
    ipython.register_magics(AgentMagics)
