"""``policywright chat`` and ``policywright serve``: a person in the loop while the robot works."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

__all__ = ["register"]


def _engine(
    world_kind: str,
    seed: int,
    objects: str | None,
    state_dir: Path | None,
    llm: str | None,
    config_file: Path | None,
    rehearse: bool | None = None,
) -> tuple[Any, Any]:
    from policywright._private.settings import load_config
    from policywright.engine import Engine, make_world

    config = load_config(
        config_file,
        overrides={
            "seed": seed or None,
            "state_dir": state_dir,
            "llm": llm,
            "ask_on_failure": True,
            "rehearse": rehearse,
        },
    )
    from policywright._private.cli_output import parse_objects

    names = parse_objects(objects)
    world = make_world(world_kind, "", seed=config.seed, objects=names, config=config)
    return world, Engine(world, config)


SPEED_HELP = (
    "The world's pace: 1 = real time (the default, so you can watch and interrupt), 0.5 = half "
    'speed, \'max\' = as fast as the machine can (as run and eval). "slower"/"faster" change '
    "it while the robot moves."
)


def parse_speed(text: str) -> float | None:
    """``--speed``: a positive number of times real time, or "max" (None: unpaced).

    Raises:
        UserError: anything else.
    """
    import math

    from policywright.errors import UserError
    from policywright.sim._world import Pacer

    word = text.strip().lower().removesuffix("x")
    if word in ("max", "maximum", "fast", "fastest"):
        return None
    try:
        value = float(word)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and Pacer.MIN_SPEED <= value <= Pacer.MAX_SPEED):
        raise UserError(
            f"--speed {text!r}: give times real time between {Pacer.MIN_SPEED:g} and "
            f"{Pacer.MAX_SPEED:g} (1 is real time), or 'max'"
        )
    return value


class _ChatPrinter:
    """Events -> lines; the program is shown when written and each line marked as it runs."""

    def __init__(self, out: Console) -> None:
        from policywright._private.cli_output import _Printer

        self.out = out
        self.base = _Printer(out)
        self.lines: list[str] = []
        # Each thread's program: a resumed or answered thread marks its own lines, not those
        # of the task that ran in between.
        self.programs: dict[str, list[str]] = {}

    def __call__(self, e: dict[str, Any]) -> None:
        kind = e.get("event")
        if kind == "program":
            self.lines = str(e.get("code", "")).splitlines()
        if kind == "ack" and e.get("thread_id") in self.programs:
            self.lines = self.programs[e["thread_id"]]
        if kind == "result":
            self.programs[str(e["thread_id"])] = self.lines
        if kind == "call_start":
            line = e.get("line") or 0
            src = self.lines[line - 1].strip() if 0 < line <= len(self.lines) else e.get("name")
            self.out.print(f"[bold magenta]▶ line {line}[/bold magenta] {escape(str(src))}")
            return
        if kind == "ack":
            colour = "green" if e.get("accepted") else "yellow"
            self.out.print(f"[{colour}]» {escape(str(e.get('message', '')))}[/{colour}]")
            return
        if kind == "result":
            colour = {"succeeded": "green", "waiting": "cyan"}.get(e["status"], "red")
            self.out.print(
                f"[{colour}]■ {e['status']}[/{colour}] ({e['thread_id']}): {escape(e['reason'])}"
            )
            if e["status"] == "waiting" and e.get("question"):
                q = e["question"]
                self.out.print(f"[bold cyan]? {escape(q.get('question', ''))}[/bold cyan]")
                options = q.get("options") or []
                answer = f" ({', '.join(options)})" if options else ""
                self.out.print(
                    f"[cyan]  answer: type your answer{escape(answer)} · new task: "
                    "/new COMMAND (the question stays for /resume "
                    f"{escape(e['thread_id'])})[/cyan]"
                )
            return
        if kind == "error":
            self.out.print(f"[red]error: {escape(e['message'])}[/red]")
            return
        if kind in ("frames", "state", "threads"):
            return
        self.base(e)


CHAT_HELP = """\
Type a command ("put the red block in the blue bowl"). While the robot moves, what you type
is a correction ("stop", "a bit to the left", "slower"); it is taken at the next primitive
boundary ("stop" at once). When a question waits, what you type is the answer; a new command
puts the question aside and starts.
  /new [COMMAND]  put a waiting question aside (and start COMMAND)
  /threads        recent threads        /resume ID   continue (or answer) a thread
  /stop           stop the robot        /quit        leave"""

_SLASH = ("/help", "/threads", "/resume", "/new", "/stop", "/quit", "/exit")


def _slash(live: Any, out: Console, cmd: str) -> bool:
    """Handle a slash command; False when ``cmd`` is plain text (a command or correction)."""
    if not cmd.startswith("/"):
        return False
    word, _, rest = cmd.partition(" ")
    rest = rest.strip()
    if word == "/help":
        out.print(CHAT_HELP, markup=False, highlight=False)
    elif word == "/threads":
        for t in live.threads()[:10]:
            out.print(f"  {t['thread_id']}  {t['status']:<9} {escape(t['command'])}")
    elif word == "/resume":
        if not rest:
            out.print("[red]error: /resume needs a thread id (see /threads)[/red]")
        else:
            live.resume(rest)
    elif word == "/new":
        if rest:
            live.submit(rest, as_command=True)
        else:
            live.new_task()
    elif word == "/stop":
        live.stop()
    else:
        # Never sent to the robot: "/frob" is a typo of a slash command, not a task.
        known = ", ".join(_SLASH)
        out.print(f"[red]error: unknown command {escape(word)!r}; the commands are {known}[/red]")
    return True


def register(app: typer.Typer) -> None:
    """Add ``chat`` and ``serve`` to the main command line."""

    @app.command()
    def chat(
        world_kind: Annotated[
            str, typer.Option("--world", help="tabletop, floor or mobile.")
        ] = "tabletop",
        seed: Annotated[int, typer.Option(min=0, help="Seed of the sampled scene.")] = 0,
        objects: Annotated[
            str | None, typer.Option(help='Objects, e.g. "red block, blue bowl".')
        ] = None,
        session: Annotated[
            str, typer.Option(help="Session name (follow-ups see earlier turns).")
        ] = "chat",
        state_dir: Annotated[
            Path | None, typer.Option(help="Folder for checkpoints and memory.")
        ] = None,
        llm: Annotated[str | None, typer.Option(help="Plan with a model (as for run).")] = None,
        config_file: Annotated[
            Path | None, typer.Option("--config", help="A TOML settings file.")
        ] = None,
        rehearse: Annotated[
            bool | None,
            typer.Option(
                "--rehearse/--no-rehearse",
                help="Rehearse each program in a twin of the scene first (default: on).",
            ),
        ] = None,
        speed: Annotated[str, typer.Option(help=SPEED_HELP)] = "1",
    ) -> None:
        """Type commands, and corrections while the robot moves ("stop", "a bit to the left").

        Lines are read in the background, so you can type while a task runs: text then goes to
        the robot as a correction. /help, /threads, /resume ID, /stop, /quit.
        """
        from policywright._private.live import LiveSession

        out = Console(highlight=False)
        pace = parse_speed(speed)
        world, engine = _engine(world_kind, seed, objects, state_dir, llm, config_file, rehearse)
        live = LiveSession(engine, session=session, speed=pace)
        sub = live.subscribe(frames=False)
        printer = _ChatPrinter(out)
        lines: list[str | None] = []
        cond = threading.Condition()

        def reader() -> None:
            for raw in sys.stdin:
                with cond:
                    lines.append(raw.rstrip("\n"))
                    cond.notify()
            with cond:
                lines.append(None)
                cond.notify()

        threading.Thread(target=reader, daemon=True).start()
        shown = "as fast as possible" if pace is None else f"at {pace:g}x real time"
        out.print(
            f"[bold]policywright chat[/bold]: {world.kind} world {shown}, objects: "
            f"{', '.join(sorted(world.detect()))}. /help for help."
        )
        eof = False
        try:
            while True:
                while (event := sub.get(timeout=0.05)) is not None:
                    printer(event)
                with cond:
                    line = lines.pop(0) if lines else ""
                if line is None:
                    eof = True
                if eof:
                    # Input ended (a pipe): finish what was asked, then leave.
                    if live.idle:
                        while (event := sub.get(timeout=0.2)) is not None:
                            printer(event)
                        break
                    continue
                cmd = (line or "").strip()
                if not cmd:
                    continue
                if cmd in ("/quit", "/exit"):
                    break
                if not _slash(live, out, cmd):
                    live.submit(cmd)
                    time.sleep(0.05)
        finally:
            live.close()
            engine.close()
            world.close()

    @app.command()
    def serve(
        host: Annotated[
            str, typer.Option(help="Address to bind (loopback by default).")
        ] = "127.0.0.1",
        port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port to listen on.")] = 8765,
        world_kind: Annotated[
            str, typer.Option("--world", help="tabletop, floor or mobile.")
        ] = "tabletop",
        seed: Annotated[int, typer.Option(min=0, help="Seed of the sampled scene.")] = 0,
        objects: Annotated[
            str | None, typer.Option(help='Objects, e.g. "red block, blue bowl".')
        ] = None,
        session: Annotated[str, typer.Option(help="Session name.")] = "web",
        state_dir: Annotated[
            Path | None, typer.Option(help="Folder for checkpoints and memory.")
        ] = None,
        llm: Annotated[str | None, typer.Option(help="Plan with a model (as for run).")] = None,
        config_file: Annotated[
            Path | None, typer.Option("--config", help="A TOML settings file.")
        ] = None,
        rehearse: Annotated[
            bool | None,
            typer.Option(
                "--rehearse/--no-rehearse",
                help="Rehearse each program in a twin of the scene first (default: on).",
            ),
        ] = None,
        speed: Annotated[str, typer.Option(help=SPEED_HELP)] = "1",
        fps: Annotated[
            float,
            typer.Option(min=0.5, max=30, help="Camera frames per second sent while it moves."),
        ] = 10.0,
    ) -> None:
        """Serve the web UI (extra [web]): camera views, the program, the log, chat and stop."""
        from policywright._private.live import LiveSession
        from policywright._private.web.app import create_app, require_web

        uvicorn = require_web()
        out = Console(stderr=True)
        if host not in ("127.0.0.1", "localhost", "::1"):
            out.print(
                f"[bold red]warning: serving on {host}: anyone who can reach it "
                "can move the robot[/bold red]"
            )
        pace = parse_speed(speed)
        world, engine = _engine(world_kind, seed, objects, state_dir, llm, config_file, rehearse)
        live = LiveSession(engine, session=session, speed=pace, frame_hz=fps)
        out.print(f"policywright web UI on http://{host}:{port}/")
        try:
            uvicorn.run(create_app(live), host=host, port=port, log_level="warning")
        finally:
            with contextlib.suppress(Exception):
                live.close()
            engine.close()
            world.close()
