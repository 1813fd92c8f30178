"""`python -m samlite.demo` (what `make demo` runs): both examples end to end, through the real CLI.

Everything happens in a throw-away state dir with OS-chosen ports, so the demo never touches a
running engine or ~/.samlite. Each step is a `python -m samlite ...` subprocess, exactly as a user
would type it; the demo prints step headings with timings and exits non-zero at the first failing
step (after deleting what it deployed and stopping its engine).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from rich.console import Console

MESSAGES = 25
SENTENCES = (
    ("I love strawberry cake!", "POSITIVE"),
    ("I hate chocolate cake!", "NEGATIVE"),
)
SQS_STACK = "demo-sqs-lambda"
API_STACK = "demo-apigw-comprehend"

console = Console(stderr=True, highlight=False, soft_wrap=True)


class StepFailed(Exception):
    pass


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


def _examples_dir() -> Path:
    """The repo's examples/ in a source checkout; the identical shipped starters otherwise."""
    here = Path(__file__).resolve().parent
    repo = here.parent / "examples"
    if (repo / "sqs-lambda" / "template.yaml").is_file():
        return repo
    return here / "starters"


class Demo:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.env = {
            **os.environ,
            "SAMLITE_HOME": str(workdir / "home"),
            "SAMLITE_GATEWAY_PORT": "0",
            "SAMLITE_AWS_PORT": "0",
            "PYTHONUNBUFFERED": "1",
            "NO_COLOR": "1",
        }
        self.timings: list[tuple[str, float, bool]] = []
        self.deployed: list[str] = []

    # --- plumbing ----------------------------------------------------------------------------
    def samlite(self, *args: str, cwd: Path | None = None, input: str | None = None,
                timeout: float = 60, show: bool = True) -> subprocess.CompletedProcess[str]:
        """Run one CLI command; show it; fail the step on a non-zero exit."""
        if show:
            console.print(f"  [dim]$ samlite {' '.join(_quote(a) for a in args)}[/dim]")
        result = subprocess.run([sys.executable, "-m", "samlite", *args], cwd=cwd, env=self.env, input=input,
                                capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise StepFailed(f"`samlite {' '.join(args)}` exited {result.returncode}:\n"
                             f"{result.stderr.strip()}\n{result.stdout.strip()}")
        return result

    def step(self, title: str, fn: Callable[[], object]) -> None:
        console.rule(f"[bold]{title}", align="left")
        started = time.monotonic()
        try:
            fn()
        except StepFailed:
            self.timings.append((title, time.monotonic() - started, False))
            raise
        except Exception as exc:  # any surprise fails this step, with its message
            self.timings.append((title, time.monotonic() - started, False))
            raise StepFailed(f"{type(exc).__name__}: {exc}") from exc
        elapsed = time.monotonic() - started
        self.timings.append((title, elapsed, True))
        console.print(f"  [green]done[/green] in {elapsed:.2f} s")

    # --- steps -------------------------------------------------------------------------------
    def start_engine(self) -> None:
        self.samlite("engine", "start")
        status = json.loads(self.samlite("engine", "status", "--output", "json").stdout)
        console.print(f"  gateway {status['gateway_url']}  ·  AWS endpoint {status['aws_url']}")

    def deploy(self, project: Path, stack: str) -> dict[str, str]:
        result = self.samlite("deploy", "--stack-name", stack, "--no-confirm-changeset", "--output", "json",
                              cwd=project)
        self.deployed.append(stack)
        outputs = {o["key"]: o["value"] for o in json.loads(result.stdout).get("outputs", [])}
        for key, value in outputs.items():
            console.print(f"  Output [cyan]{key}[/cyan] = {value}")
        return outputs

    def send_messages(self, project: Path) -> None:
        def send(i: int) -> str:
            body = f"order {i:02d}: {MESSAGES} messages from the samlite demo"
            return self.samlite("send-message", "MessagesQueue", "--stack-name", SQS_STACK, "--body", body,
                                cwd=project, show=i == 1).stdout.strip()

        # A few at a time: each is a whole CLI process, as a user's shell loop would run it.
        with ThreadPoolExecutor(max_workers=4) as pool:
            ids = list(pool.map(send, range(1, MESSAGES + 1)))
        if len(set(ids)) != MESSAGES:
            raise StepFailed(f"expected {MESSAGES} distinct MessageIds, got {len(set(ids))}")
        console.print(f"  [dim]… and {MESSAGES - 1} more, 4 at a time[/dim]")
        console.print(f"  sent {MESSAGES} messages; first MessageId {ids[0]}")

    def wait_for_logs(self, project: Path) -> None:
        deadline = time.monotonic() + 20
        seen = polls = 0
        while time.monotonic() < deadline:
            out = self.samlite("logs", "-n", "ProcessorFunction", "--stack-name", SQS_STACK, "--filter",
                               "processed message", cwd=project, show=seen == 0).stdout
            lines = [line for line in out.splitlines() if "processed message" in line]
            seen, polls = len(lines), polls + 1
            if seen >= MESSAGES:
                for line in lines[:3]:
                    console.print(f"  [magenta]ProcessorFunction[/magenta] {line.strip()[:110]}")
                console.print(f"  … {seen} 'processed message' lines in the function's logs ({polls} polls)")
                return
            time.sleep(0.2)
        raise StepFailed(f"only {seen} of {MESSAGES} messages showed up in the logs within 20 s")

    def list_queues(self, project: Path) -> None:
        out = self.samlite("list", "queues", "--stack-name", SQS_STACK, cwd=project).stdout
        console.print(out.rstrip())

    def detect_sentiment(self, url: str) -> None:
        for sentence, expected in SENTENCES:
            request = urllib.request.Request(url, data=json.dumps({"input": sentence}).encode(), method="POST",
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as response:
                status, body = response.status, json.loads(response.read())
            label = body.get("sentiment")
            colour = "green" if label == expected else "red"
            console.print(f"  POST {sentence!r}\n    -> {status} [{colour}]{label}[/{colour}] "
                          f"{json.dumps(body.get('confidence_scores'))}")
            if status != 200 or label != expected:
                raise StepFailed(f"expected {expected} for {sentence!r}, got {status} {body}")

    def delete(self, stack: str) -> None:
        self.samlite("delete", "--stack-name", stack, "--no-prompts")
        self.deployed.remove(stack)

    def delete_all(self) -> None:
        for stack in (SQS_STACK, API_STACK):
            self.delete(stack)

    def cleanup(self) -> None:
        """Best effort: remove what is still deployed, stop the engine."""
        for stack in list(self.deployed):
            subprocess.run([sys.executable, "-m", "samlite", "delete", "--stack-name", stack, "--no-prompts"],
                           env=self.env, capture_output=True, timeout=30)
        subprocess.run([sys.executable, "-m", "samlite", "engine", "stop"], env=self.env, capture_output=True,
                       timeout=30)

    # --- the script --------------------------------------------------------------------------
    def run(self) -> None:
        examples = _examples_dir()
        sqs = self.workdir / "sqs-lambda"
        api = self.workdir / "apigw-comprehend"
        ignore = shutil.ignore_patterns(".samlite", "__pycache__", "samconfig.toml")
        shutil.copytree(examples / "sqs-lambda", sqs, ignore=ignore)
        shutil.copytree(examples / "apigw-comprehend", api, ignore=ignore)
        console.print(f"[bold]samlite demo[/bold]: examples from {examples}, state in {self.workdir}")
        outputs: dict[str, str] = {}

        self.step("Start an isolated engine", self.start_engine)
        self.step("sqs-lambda: deploy", lambda: outputs.update(self.deploy(sqs, SQS_STACK)))
        self.step(f"sqs-lambda: send {MESSAGES} messages", lambda: self.send_messages(sqs))
        self.step("sqs-lambda: wait for the function's logs", lambda: self.wait_for_logs(sqs))
        self.step("sqs-lambda: list queues", lambda: self.list_queues(sqs))
        self.step("apigw-comprehend: deploy", lambda: outputs.update(self.deploy(api, API_STACK)))
        self.step("apigw-comprehend: POST two sentences", lambda: self.detect_sentiment(outputs["SentimentApiUrl"]))
        self.step("Delete both stacks", self.delete_all)
        self.step("Stop the engine", lambda: self.samlite("engine", "stop"))

    def summary(self, ok: bool, total: float) -> None:
        from rich.table import Table

        table = Table(title="samlite demo", title_justify="left", box=None, header_style="bold")
        table.add_column("step")
        table.add_column("time", justify="right")
        table.add_column("result")
        for title, seconds, passed in self.timings:
            table.add_row(title, f"{seconds:.2f} s", "[green]ok[/green]" if passed else "[red]FAILED[/red]")
        table.add_row("[bold]total[/bold]", f"[bold]{total:.2f} s[/bold]", "[green]ok[/green]" if ok else "[red]FAILED[/red]")
        console.print(table)


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="samlite-demo-"))
    demo = Demo(workdir)
    ok = False
    try:
        demo.run()
        ok = True
    except StepFailed as exc:
        console.print(f"[bold red]Demo failed:[/bold red] {exc}")
        log = workdir / "home" / "engine.log"
        if log.exists():
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            console.print(f"[dim]engine.log ends with:\n{tail}[/dim]")
    except KeyboardInterrupt:
        console.print("[yellow]Interrupted.[/yellow]")
    finally:
        if not ok:
            demo.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)
    demo.summary(ok, time.monotonic() - started)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
