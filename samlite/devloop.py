"""`samlite dev`: deploy, then watch sources and the template and redeploy what changed.

The loop, one thread each:
- watchdog's observer turns file-system events into paths on a queue (editor litter, build
  output and bytecode are dropped right there);
- the main thread debounces them (a save is often 2-4 events: write, chmod, rename), checks the
  changed Python files with `compile()` and, when they parse, redeploys through the same
  `deploy_stack` that `samlite deploy` uses. The build is incremental and the engine's plan only
  swaps the code of functions whose digest changed, so a one-file edit reaches the next invoke in
  well under a second; environments of the old version drain and are reaped;
- a log follower polls the engine's log cursor and prints every function's lines with its
  logical id in a stable colour.

Nothing here is fatal once the loop runs: template, build, syntax and deploy errors are printed and
the loop waits for the next save. Ctrl-C stops the loop and leaves the stack deployed.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from rich.console import Console
from rich.markup import escape

from samlite.errors import EngineUnreachable, SamliteError, TemplateError

DEBOUNCE_S = 0.12  # quiet period that closes a burst of events
MAX_BURST_S = 1.0  # a continuous stream of events still deploys this often
LOG_POLL_S = 0.2
_IGNORED_DIRS = frozenset({".samlite", ".aws-sam", "__pycache__", ".git", ".hg", ".pytest_cache", ".mypy_cache",
                           ".venv", "node_modules"})
_IGNORED_SUFFIXES = (".pyc", ".pyo", ".swp", ".swx", ".swo", "~", ".tmp", ".bak")
_IGNORED_NAMES = frozenset({"4913", ".DS_Store", "samconfig.toml"})  # 4913: vim's write probe
_RELEVANT_EVENTS = frozenset({"created", "modified", "moved", "deleted"})
_COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "bright_red", "bright_cyan", "bright_magenta")


def ignored(path: Path) -> bool:
    """Paths whose changes never trigger a redeploy: build output, bytecode, editor swap files."""
    name = path.name
    if name in _IGNORED_NAMES or name.endswith(_IGNORED_SUFFIXES) or name.startswith(".#"):
        return True
    return any(part in _IGNORED_DIRS for part in path.parts)


def syntax_errors(paths: list[Path], base: Path | None = None) -> list[str]:
    """`compile()` each existing .py file; one readable message per file that does not parse.

    Paths in the messages are shown relative to `base` when they are inside it.
    """
    problems = []
    for path in paths:
        if path.suffix != ".py" or not path.is_file():
            continue
        try:
            source = path.read_bytes()
            compile(source, str(path), "exec", dont_inherit=True)
        except SyntaxError as exc:
            shown = path.relative_to(base) if base is not None and base in path.parents else path
            where = f"{shown}:{exc.lineno or '?'}" + (f":{exc.offset}" if exc.offset else "")
            text = f"{type(exc).__name__} in {where}: {exc.msg}"
            if exc.text:
                line = exc.text.rstrip("\n")
                caret = " " * max((exc.offset or 1) - 1 - (len(line) - len(line.lstrip())), 0) + "^"
                text += f"\n    {line.strip()}\n    {caret}"
            problems.append(text)
        except (OSError, ValueError) as exc:  # unreadable, or NUL bytes
            problems.append(f"cannot check {path}: {exc}")
    return problems


@dataclass
class DevLoop:
    """One `samlite dev` session. `deploy(client)` is `cli.deploy.deploy_stack` bound to the rest."""

    client: Any
    template_path: Path
    stack_name: str
    deploy: Callable[[Any], dict[str, Any] | None]  # (client) -> apply result, None when declined
    console: Console
    overrides: dict[str, str] = field(default_factory=dict)
    debounce_s: float = DEBOUNCE_S
    _events: "queue.Queue[Path]" = field(default_factory=queue.Queue)
    _stop: threading.Event = field(default_factory=threading.Event)
    _watched: dict[Path, Any] = field(default_factory=dict)
    _code_dirs: set[Path] = field(default_factory=set)
    _broken: set[Path] = field(default_factory=set)
    _names: dict[str, str] = field(default_factory=dict)  # physical function name -> logical id
    _sources: dict[str, str] = field(default_factory=dict)  # running code dir -> project folder (tracebacks)
    _colours: dict[str, str] = field(default_factory=dict)
    _observer: Any = None

    # --- lifecycle -------------------------------------------------------------------------
    def run(self) -> None:
        """Deploy, watch and follow logs until `stop()` or Ctrl-C (KeyboardInterrupt)."""
        from watchdog.observers import Observer

        self.template_path = self.template_path.resolve()
        self._observer = Observer()
        self._observer.daemon = True
        self._observer.start()
        logs = threading.Thread(target=self._follow_logs, name="samlite-dev-logs", daemon=True)
        try:
            self._redeploy("initial deploy")
            self._rewatch()
            logs.start()
            self.console.print(f"[bold]Watching[/bold] {self._describe_watch()} [dim](Ctrl-C to stop)[/dim]")
            while not self._stop.is_set():
                changed = self._next_burst()
                if changed:
                    self._handle(changed)
        finally:
            self._stop.set()
            self._observer.stop()
            self._observer.join(timeout=2)

    def stop(self) -> None:
        self._stop.set()

    # --- watching --------------------------------------------------------------------------
    def _on_event(self, event: Any) -> None:
        # Called on watchdog's thread: filter cheaply, hand paths to the main thread.
        if event.event_type not in _RELEVANT_EVENTS or (event.is_directory and event.event_type == "modified"):
            return
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if raw:
                path = Path(raw.decode() if isinstance(raw, bytes) else raw)
                if self._relevant(path) and not ignored(self._inner(path)):
                    self._events.put(path)

    def _inner(self, path: Path) -> Path:
        """The part of `path` inside the project (or its code folder): a project that itself lives
        under, say, a `.venv` or `.git` folder must not have all its changes ignored."""
        for root in [self.template_path.parent, *self._code_dirs]:
            if root in path.parents:
                return path.relative_to(root)
        return Path(path.name)

    def _relevant(self, path: Path) -> bool:
        if path == self.template_path:
            return True
        return any(path == d or d in path.parents for d in self._code_dirs)

    def _rewatch(self) -> None:
        """Watch the template's folder (flat) and every code folder (recursive); drop stale watches."""
        from watchdog.events import FileSystemEventHandler

        handler = FileSystemEventHandler()
        handler.on_any_event = self._on_event  # type: ignore[method-assign]
        wanted: dict[Path, bool] = {self.template_path.parent: False}
        for d in self._code_dirs:
            wanted[d] = True
        # A recursive watch on a folder covers its subfolders: skip those.
        for d in list(wanted):
            if any(w != d and wanted[w] and w in d.parents for w in wanted):
                del wanted[d]
        for d in list(self._watched):
            if d not in wanted:
                self._observer.unschedule(self._watched.pop(d))
        for d, recursive in wanted.items():
            if d not in self._watched and d.is_dir():
                self._watched[d] = self._observer.schedule(handler, str(d), recursive=recursive)

    def _describe_watch(self) -> str:
        base = self.template_path.parent
        parts = [self._rel(self.template_path)] + sorted(self._rel(d) + "/" for d in self._code_dirs if d != base)
        if base in self._code_dirs:
            parts.append("./")
        return ", ".join(parts)

    def _rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.template_path.parent))
        except ValueError:
            return str(path)

    def _next_burst(self) -> set[Path]:
        """Block for the first event, then collect until `debounce_s` passes without one."""
        try:
            first = self._events.get(timeout=0.25)
        except queue.Empty:
            return set()
        changed = {first}
        start = time.monotonic()
        while time.monotonic() - start < MAX_BURST_S:
            try:
                changed.add(self._events.get(timeout=self.debounce_s))
            except queue.Empty:
                break
        return changed

    # --- reacting --------------------------------------------------------------------------
    def _handle(self, changed: set[Path]) -> None:
        # Editors and tools save through temporary files that are gone by now: name what exists,
        # or, when nothing does, what was removed.
        present = sorted(self._rel(p) for p in changed if p.exists())
        label, names = ("changed", present) if present else ("removed", sorted(self._rel(p) for p in changed))
        self.console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {label}: {escape(', '.join(names))}")
        # Re-check files that were broken before: a save elsewhere must not deploy them.
        candidates = sorted({p for p in changed if p.suffix == ".py"} | self._broken)
        problems = syntax_errors(candidates, self.template_path.parent)
        self._broken = {p for p in candidates if syntax_errors([p])} if problems else set()
        if problems:
            for text in problems:
                self.console.print(f"[bold red]{escape(text)}[/bold red]")
            self.console.print("[yellow]Not deployed: fix the error and save again.[/yellow]")
            return
        self._redeploy("redeploy")
        self._rewatch()

    def _redeploy(self, what: str) -> None:
        started = time.monotonic()
        try:
            result = self._deploy_once()
        except TemplateError as exc:
            for problem in exc.problems:
                self.console.print(f"[red]{escape(str(problem))}[/red]")
            self._error(exc)
            self._learn()
            return
        except SamliteError as exc:
            self._error(exc)
            self._learn()
            return
        self._learn()
        if result is None:
            return
        ms = (time.monotonic() - started) * 1000
        self.console.print(f"[green]{what} of {self.stack_name} done in {ms:.0f} ms[/green]")

    def _deploy_once(self) -> dict[str, Any] | None:
        try:
            return self.deploy(self.client)
        except EngineUnreachable:
            # The engine went away (stopped, crashed): start it again and retry once.
            from samlite.client import start_engine

            self.console.print("[yellow]The engine is not reachable; starting it again.[/yellow]")
            self.client, _ = start_engine(self.client.settings)
            return self.deploy(self.client)

    def _error(self, exc: SamliteError) -> None:
        self.console.print(f"[bold red]Error:[/bold red] {escape(exc.message)}")
        if exc.hint:
            self.console.print(f"[dim]Hint: {escape(exc.hint)}[/dim]")
        self.console.print("[yellow]Still watching: save a file to try again.[/yellow]")

    def _learn(self) -> None:
        """Remember the code folders and function names of the template as it is now."""
        from samlite.template import load_stack
        from samlite.template.model import Context

        try:
            info = self.client.info()
            context = Context(stack_name=self.stack_name, region=info["region"], account_id=info["account_id"],
                              aws_url=info["aws_url"])
            stack = load_stack(self.template_path, context, self.overrides)
        except SamliteError:
            return
        dirs = set()
        for fn in stack.functions.values():
            if fn.code_uri and Path(fn.code_uri).is_dir():
                dirs.add(Path(fn.code_uri).resolve())
            self._names[fn.name] = fn.logical_id
        for layer in stack.layers.values():
            if layer.content_uri and Path(layer.content_uri).is_dir():
                dirs.add(Path(layer.content_uri).resolve())
        self._code_dirs = dirs
        from samlite.cli.common import source_paths

        try:
            self._sources = source_paths(self.client.call("lambdas", "functions", stack=self.stack_name))
        except SamliteError:
            pass  # not deployed (yet): log lines keep the paths they have

    # --- logs ------------------------------------------------------------------------------
    def _follow_logs(self) -> None:
        from samlite.client import EngineClient

        client = EngineClient(self.client.settings)
        cursor: int | None = None
        warned = False
        delay = 0.0  # the first poll fixes the cursor at "now" right away
        while not self._stop.wait(delay):
            delay = LOG_POLL_S
            try:
                page = client.logs.events(10, stack=self.stack_name, after_id=cursor, tail_start=cursor is None,
                                          limit=1000)
            except EngineUnreachable as exc:
                if not warned:
                    self.console.print(f"[dim]logs unavailable: {escape(exc.message)}[/dim]")
                    warned = True
                continue
            except SamliteError:
                continue  # e.g. the stack is not deployed yet: the next deploy may fix that
            warned = False
            for event in page.get("events", []):
                self._print_log(event)
            cursor = page.get("last_id", cursor)

    def _print_log(self, event: dict[str, Any]) -> None:
        name = self._names.get(event["function"], event["function"])
        colour = self._colours.setdefault(name, _COLOURS[len(self._colours) % len(_COLOURS)])
        message = str(event["message"]).rstrip("\n")
        for code_dir, source in self._sources.items():
            message = message.replace(code_dir, source)
        self.console.print(f"[{colour}]{escape(name)}[/{colour}] {escape(message)}", soft_wrap=True)
