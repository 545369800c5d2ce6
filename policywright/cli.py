"""The ``policywright`` command line (typer + rich).

Exit codes: 0 the command was achieved; 1 the task failed (attempts spent, not verified);
2 the user must act (empty or unplannable command, unknown object, bad option or file);
3 an internal error (a bug: please report it).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import pydantic
import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from policywright._private.cli_output import _code, _Printer, parse_objects
from policywright.errors import PolicywrightError, UnknownThreadError, UserError

__all__ = ["app", "main"]

EXIT_OK, EXIT_FAILED, EXIT_USER, EXIT_BUG = 0, 1, 2, 3

app = typer.Typer(
    name="policywright",
    help="An LLM or the offline planner writes robot policy code; it runs sandboxed in PyBullet.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: rich markup ate bracketed text ("extra [web]", "[llm_settings]"), its option
    # tables split words mid-word at 80 columns, and every flag read "<bool>".
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("policywright")
        except PackageNotFoundError:  # run from a source tree that is not installed
            number = "unknown (not installed)"
        typer.echo(f"policywright {number}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _main_options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """An LLM or the offline planner writes robot policy code; it runs sandboxed in PyBullet."""


def _add_subcommands() -> None:
    from policywright._private import cli_eval, cli_live
    from policywright._private.cli_skills import skills_app

    app.add_typer(skills_app, name="skills")
    cli_live.register(app)
    cli_eval.register(app)


_add_subcommands()
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


VERBOSE_HELP = "Log what the engine does (info level) to stderr."


def state_dir_flag(state_dir: Path | None) -> str:
    """`` --state-dir DIR`` for a copy-paste hint when one was given, else ""."""
    if state_dir is None:
        return ""
    import shlex

    return f" --state-dir {shlex.quote(str(state_dir))}"


def check_writable(path: Path, option: str) -> None:
    """Fail before any work when an output file cannot be written (``--record``, ``--image``).

    Raises:
        UserError: the folder cannot be created or the file cannot be opened for writing.
    """
    existed = path.exists()
    try:
        if path.is_dir():
            raise IsADirectoryError(f"{str(path)!r} is a folder")
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab"):
            pass
    except OSError as exc:
        raise UserError(
            f"{option} {str(path)!r} cannot be written ({exc.strerror or exc}): choose another "
            "path; nothing was run"
        ) from exc
    if not existed:
        path.unlink(missing_ok=True)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False)],
    )


@app.command()
def run(
    command: Annotated[str, typer.Argument(help="What the robot should do.")],
    # None, not 0, when not given: a session refuses a seed given for its existing world.
    seed: Annotated[
        int | None, typer.Option(min=0, help="Seed of the sampled scene and the run (default 0).")
    ] = None,
    world_kind: Annotated[
        str | None,
        typer.Option(
            "--world",
            help="tabletop (Panda, blocks and bowls; the default), floor (A1 quadruped and "
            "landmarks) or mobile (Panda on a Husky, tables).",
        ),
    ] = None,
    scene: Annotated[
        Path | None, typer.Option("--scene", help="A scene YAML file (a SceneSpec).")
    ] = None,
    objects: Annotated[
        str | None,
        typer.Option(help='Comma-separated objects, e.g. "red block, blue bowl".'),
    ] = None,
    record: Annotated[
        Path | None, typer.Option(help="Save a GIF of the top view to this file.")
    ] = None,
    image: Annotated[
        Path | None, typer.Option(help="Where to save the final top-view PNG.")
    ] = None,
    state_dir: Annotated[
        Path | None, typer.Option(help="Folder for checkpoints, snapshots and memory.")
    ] = None,
    thread: Annotated[str | None, typer.Option(help="Checkpoint thread id.")] = None,
    session: Annotated[
        str | None,
        typer.Option(
            help="Session name: the task continues from the world the session's last task "
            "left, and follow-ups see its earlier commands ('undo that'; docs/sessions.md)."
        ),
    ] = None,
    new_world: Annotated[
        bool,
        typer.Option(
            "--new-world",
            help="Start the session over in a new world (from --objects, --scene, --seed).",
        ),
    ] = False,
    llm: Annotated[
        str | None,
        typer.Option(
            help="Plan with a model: openai:<model>, anthropic:<model>, "
            "openai-compatible:<base_url>#<model>, hf:<path>. Default: the offline planner."
        ),
    ] = None,
    verify: Annotated[
        str | None, typer.Option(help="How to verify: code (default), vlm or both.")
    ] = None,
    vlm: Annotated[
        str | None, typer.Option(help="The vision model for --verify vlm|both (default: --llm).")
    ] = None,
    config_file: Annotated[
        Path | None,
        typer.Option("--config", help="A TOML settings file (default: $POLICYWRIGHT_CONFIG)."),
    ] = None,
    cache: Annotated[
        bool | None,
        typer.Option(
            "--cache/--no-cache",
            help="Answer repeated model requests from the on-disk response cache.",
        ),
    ] = None,
    max_attempts: Annotated[
        int | None, typer.Option(min=1, max=20, help="Attempt budget (default 3).")
    ] = None,
    rehearse: Annotated[
        bool | None,
        typer.Option(
            "--rehearse/--no-rehearse",
            help="Rehearse each program in a twin of the scene built from the cameras; the "
            "robot moves only for a program the twin verified (default: on).",
        ),
    ] = None,
    candidates: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=8,
            help="Programs per attempt, rehearsed in turn (default: 3 offline, 1 with --llm).",
        ),
    ] = None,
    rehearsal_budget: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=50,
            help="Failures caught before the robot moves that give their attempt back (default 6).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object only.")] = False,
    gui: Annotated[bool, typer.Option(help="Open a PyBullet window.")] = False,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help=VERBOSE_HELP)] = False,
) -> None:
    """Plan, check, execute and verify one command in a simulated world."""
    _setup_logging(verbose)
    from policywright._private.settings import load_config
    from policywright.engine import Engine, make_world
    from policywright.sim import save_gif

    out = err_console if as_json else console
    if not command.strip():
        raise UserError("the command is empty: say what the robot should do")
    overrides: dict[str, Any] = {
        "max_attempts": max_attempts,
        "gui": gui or None,
        "seed": seed or None,
        "state_dir": state_dir,
        "llm": llm,
        "verify": verify,
        "vlm": vlm,
        "rehearse": rehearse,
        "candidates": candidates,
        "rehearsal_budget": rehearsal_budget,
    }
    names = parse_objects(objects)
    # Output paths are checked before the task: a failure after the robot moved loses a run.
    for path, option in ((record, "--record"), (image, "--image")):
        if path is not None:
            check_writable(path, option)
    config = load_config(config_file, overrides=overrides)
    if cache is not None:
        config = config.with_response_cache(cache)
    world = _session_world(session, new_world, config, world_kind, seed, objects, scene)
    if world is None:
        world = make_world(
            world_kind or "tabletop",
            command,
            seed=config.seed,
            objects=names,
            scene_file=scene,
            gui=config.gui,
            config=config,
        )
    recorder = getattr(world, "start_recording", None)
    stopper = getattr(world, "stop_recording", None)
    if record is not None and recorder is None:
        world.close()
        raise UserError(f"--record is only available in the tabletop world, not {world.kind!r}")
    with contextlib.closing(world), Engine(world, config) as eng:
        if record is not None and recorder is not None:
            recorder(width=320, height=240)  # 160x120 was too small to see a block
        printer = _Printer(out) if not as_json else None
        result = eng.run(
            command, thread_id=thread, session=session, on_event=printer, new_world=new_world
        )
        run_dir = config.runs_dir / result.thread_id
        run_dir.mkdir(parents=True, exist_ok=True)
        image_path = image or run_dir / f"final_{world.cameras[0]}.png"
        image_path.parent.mkdir(parents=True, exist_ok=True)
        from PIL import Image

        Image.fromarray(world.render(world.cameras[0], 640, 480)).save(image_path)
        result.image = str(image_path)
        if record is not None and stopper is not None:
            frames = stopper()
            record.parent.mkdir(parents=True, exist_ok=True)
            save_gif(frames, record)
            result.gif = str(record)
    _print_result(result, out, as_json, state_dir=state_dir)
    raise typer.Exit(result.exit_code)


def _session_world(
    session: str | None,
    new_world: bool,
    config: Any,
    world_kind: str | None,
    seed: int | None,
    objects: str | None,
    scene: Path | None,
) -> Any:
    """The world an existing session continues in, or None when a new world is to be built.

    Raises:
        UserError: scene options given for a session that has its world (they would change
            it), ``--new-world`` without a session, or the session's last task is unfinished.
    """
    from policywright.engine import session_snapshot, session_world

    if session is None:
        if new_world:
            raise UserError("--new-world starts a session over: give the session (--session)")
        return None
    if new_world or session_snapshot(config, session) is None:
        return None
    given = [
        flag
        for flag, value in (("--objects", objects), ("--scene", scene), ("--seed", seed))
        if value is not None
    ]
    world = session_world(config, session, gui=config.gui)
    if world_kind is not None and world_kind != world.kind:
        given.append("--world")
    if given:
        world.close()
        raise UserError(
            f"session {session!r} already has its world (its first task fixed the scene; "
            f"each task continues where the last one left it): {', '.join(given)} would "
            "change it. Leave them out to continue, add --new-world to start the session "
            "over in a new world, or choose another session name; nothing was run"
        )
    return world


def _print_result(
    result: Any, out: Console, as_json: bool, *, state_dir: Path | None = None
) -> None:
    if as_json:
        console.print_json(result.model_dump_json())
        return
    colour = {"succeeded": "green", "waiting": "cyan", "stopped": "yellow"}.get(
        result.status, "red"
    )
    u = result.usage
    usage = (
        f"\nLLM: {u.llm_calls} call(s), {u.input_tokens} input + {u.cached_tokens} cached + "
        f"{u.output_tokens} output tokens, {u.latency_s:.1f} s, ~${u.cost_usd:.4f}"
        + (f", {u.cache_hits} response-cache hit(s)" if u.cache_hits else "")
        if u.llm_calls
        else ""
    )
    if u.plan_cache_hits:
        usage += f"\nplan cache: {u.plan_cache_hits} hit(s), no model call"
    waiting = ""
    if result.status == "waiting" and result.question:
        options = result.question.get("options") or []
        waiting = (
            f"\n\n[bold]{escape(str(result.question.get('question', '')))}[/bold]"
            + (f"\noptions: {', '.join(options)}" if options else "")
            + f"\nanswer with: policywright resume {result.thread_id}"
            + f'{escape(state_dir_flag(state_dir))} --answer "..."'
        )
    body = (
        f"{escape(result.reason)}\n\nthread {result.thread_id} · {len(result.attempts)} attempt(s)"
        + (
            f" · {result.rehearsals} rehearsal(s), {result.real_executions} real execution(s)"
            if result.rehearsals
            else ""
        )
        + f" · sim {result.sim_time:.1f} s"
        + (f"\nfinal top view: {result.image}" if result.image else "")
        + (f"\nGIF: {result.gif}" if result.gif else "")
        + (f"\n{len(result.corrections)} correction(s)" if result.corrections else "")
        + usage
        + waiting
    )
    out.print(Panel(body, title=f"[{colour}]{result.status}[/{colour}]"))


def _final_image(world: Any, config: Any, result: Any, image: Path | None) -> None:
    run_dir = config.runs_dir / result.thread_id
    run_dir.mkdir(parents=True, exist_ok=True)
    image_path = image or run_dir / f"final_{world.cameras[0]}.png"
    image_path.parent.mkdir(parents=True, exist_ok=True)
    from PIL import Image

    Image.fromarray(world.render(world.cameras[0], 640, 480)).save(image_path)
    result.image = str(image_path)


@app.command()
def resume(
    thread: Annotated[str, typer.Argument(help="The thread to continue.")],
    answer: Annotated[
        str | None, typer.Option(help="Your answer, when the thread waits on a question.")
    ] = None,
    state_dir: Annotated[
        Path | None, typer.Option(help="Folder for checkpoints, snapshots and memory.")
    ] = None,
    llm: Annotated[str | None, typer.Option(help="Plan with a model (as for run).")] = None,
    config_file: Annotated[
        Path | None,
        typer.Option("--config", help="A TOML settings file (default: $POLICYWRIGHT_CONFIG)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object only.")] = False,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help=VERBOSE_HELP)] = False,
) -> None:
    """Continue a task: after a crash (kill -9), or answer the question it waits on.

    The world is rebuilt from the thread's newest snapshot; finished primitive calls are not
    run again, and corrections sent before the crash are applied.
    """
    _setup_logging(verbose)
    from policywright._private.settings import load_config
    from policywright.engine import Engine, resume_world

    out = err_console if as_json else console
    config = load_config(config_file, overrides={"state_dir": state_dir, "llm": llm})
    _exit_if_finished(config, thread, out, as_json, state_dir)
    world = resume_world(config, thread)
    with contextlib.closing(world), Engine(world, config) as eng:
        printer = _Printer(out) if not as_json else None
        result = eng.resume(thread, answer, on_event=printer)
        _final_image(world, config, result, None)
    _print_result(result, out, as_json, state_dir=state_dir)
    raise typer.Exit(result.exit_code)


def _exit_if_finished(
    config: Any, thread: str, out: Console, as_json: bool, state_dir: Path | None
) -> None:
    """A finished thread has nothing to resume: say how it ended and exit 0 or 1, not 2.

    Nothing is wrong with the command (the user need not act); the exit code is the task's.
    """
    from policywright._private.threads import thread_history

    report = thread_history(config, thread)
    if not report.finished:
        return
    code = EXIT_OK if report.status == "succeeded" else EXIT_FAILED
    if as_json:
        console.print_json(
            json.dumps({"thread_id": thread, "status": report.status, "finished": True})
        )
    else:
        out.print(
            f"thread {escape(thread)} has already finished ({escape(report.status)}): "
            "nothing to resume. See it with: policywright history "
            f"{escape(thread)}{escape(state_dir_flag(state_dir))}"
        )
    raise typer.Exit(code)


@app.command()
def history(
    thread: Annotated[str, typer.Argument(help="The thread to show.")],
    fork: Annotated[
        int | None,
        typer.Option(help="Start a new thread from this step (continue it with resume)."),
    ] = None,
    state_dir: Annotated[
        Path | None, typer.Option(help="Folder for checkpoints, snapshots and memory.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Show a thread's steps, programs, verdicts and corrections; optionally fork it.

    Given a session's name (no thread has it), show that session's tasks in order.
    """
    from policywright._private.settings import load_config
    from policywright._private.threads import fork_thread, thread_history

    config = load_config(None, overrides={"state_dir": state_dir})
    if fork is not None:
        new_id = fork_thread(config, thread, fork)
        if as_json:
            console.print_json(json.dumps({"thread_id": new_id}))
        else:
            console.print(f"forked {thread} at step {fork} into [bold]{new_id}[/bold]")
            flag = escape(state_dir_flag(state_dir))
            console.print(f"continue it with: policywright resume {new_id}{flag}")
        return
    try:
        report = thread_history(config, thread)
    except UnknownThreadError:
        if not _print_session(config, thread, as_json, programs=True):
            raise
        return
    if as_json:
        console.print_json(report.model_dump_json())
        return
    table = Table(
        title=f"thread {thread}: {report.command!r} ({report.status})", title_justify="left"
    )
    # Two narrow columns and one that wraps at words: readable at 80 columns.
    table.add_column("step", justify="right", no_wrap=True)
    table.add_column("ran -> next", no_wrap=True)
    table.add_column("summary", overflow="fold", ratio=1)
    for st in report.steps:
        if st.node in ("input", "__start__"):
            continue  # LangGraph's own entry steps, not something the task did
        hop = f"{st.node} -> {', '.join(st.next) or 'end'}"
        table.add_row(str(st.step), hop, escape(st.summary))
    console.print(table)
    for att in report.attempts:
        prog = att.get("program", {})
        verdict = att.get("verdict") or {}
        title = f"attempt {att.get('attempt')}: {att.get('outcome', '?')}"
        if prog.get("code"):
            console.print(Panel(_code(prog["code"]), title=title))
        if verdict:
            console.print(
                f"  verdict: {'yes' if verdict.get('success') else 'no'}: "
                f"{escape(str(verdict.get('reason', '')))}"
            )
        elif att.get("feedback"):
            console.print(f"  {escape(str(att['feedback']))}")
    for c in report.corrections:
        console.print(
            f"correction #{c.get('seq')} {c.get('text')!r} ({c.get('kind')}): "
            f"{c.get('status')}: {escape(str(c.get('message', '')))}"
        )
    for text in report.pending_corrections:
        console.print(
            f"[yellow]correction {text!r} is journaled and not applied yet (resume)[/yellow]"
        )
    calls = report.calls
    if calls:
        console.print(f"{len(calls)} journaled primitive call(s); last: {calls[-1]}")


@app.command()
def threads(
    session: Annotated[
        str | None, typer.Option(help="Show this session's tasks, oldest first.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many recent threads to list.")] = 20,
    state_dir: Annotated[
        Path | None, typer.Option(help="Folder for checkpoints, snapshots and memory.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """List recent task threads, or a session's tasks in order (history SESSION: in full)."""
    from policywright._private.settings import load_config

    config = load_config(None, overrides={"state_dir": state_dir})
    if session is not None:
        if not _print_session(config, session, as_json, programs=False):
            raise UnknownThreadError(f"no session {session!r} in {str(config.state_dir)!r}")
        return
    from policywright._private.threads import recent_threads

    rows = recent_threads(config, limit)
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table(title=f"recent threads in {config.state_dir}", title_justify="left")
    for col in ("thread", "session", "status", "command"):
        table.add_column(col, overflow="fold", ratio=1 if col == "command" else None)
    for r in rows:
        table.add_row(r["thread_id"], r["session"] or "-", r["status"], escape(r["command"]))
    console.print(table)


def _print_session(config: Any, session: str, as_json: bool, *, programs: bool) -> bool:
    """Print a session's turns in order: command, outcome, verdict, program, world snapshots.

    Returns:
        False when the state folder has no session of that name (nothing printed).
    """
    from policywright._private.sessions import session_turns

    try:
        turns = session_turns(config, session)
    except UnknownThreadError:
        return False
    if as_json:
        console.print_json(json.dumps({"session": session, "turns": turns}))
        return True
    table = Table(title=f"session {session}: {len(turns)} task(s)", title_justify="left")
    for col in ("turn", "thread", "command", "outcome", "verdict", "started from"):
        table.add_column(col, overflow="fold")
    for t in turns:
        details = t["details"]
        verdict = details.get("verdict") or {}
        shown = ("yes" if verdict.get("success") else "no") if verdict else "-"
        if details.get("new_world"):
            shown += " (new world)"
        table.add_row(
            str(t["index"]),
            t["thread_id"],
            escape(t["command"]),
            escape(t["outcome"]),
            shown,
            escape(t["world_before"] or "-"),
        )
    console.print(table)
    if programs:
        for t in turns:
            if t["program"].strip():
                title = f"turn {t['index']} ({t['thread_id']}): {t['command']!r}"
                console.print(Panel(_code(t["program"].rstrip()), title=escape(title)))
    return True


@app.command()
def primitives(
    check: Annotated[
        bool, typer.Option("--check", help="Only what check programs may call.")
    ] = False,
    world_kind: Annotated[
        str, typer.Option("--world", help="tabletop, floor or mobile.")
    ] = "tabletop",
) -> None:
    """Print the primitive API listing exactly as a planner sees it."""
    from policywright.agent.listing import api_listing
    from policywright.engine import WORLD_KINDS
    from policywright.primitives import default_registry

    if world_kind not in WORLD_KINDS:
        from policywright.errors import UnknownNameError

        raise UnknownNameError("world", world_kind, list(WORLD_KINDS))
    registry = default_registry().for_world(world_kind)
    text = api_listing(registry, "check" if check else "act")
    console.print(text, markup=False, highlight=False, soft_wrap=True)


@app.command()
def doctor(
    require_strict: Annotated[
        bool,
        typer.Option("--require-strict", help="Exit 1 when strict sandbox isolation cannot run."),
    ] = False,
) -> None:
    """Print which sandbox isolation layers are active on this machine (docs/sandbox.md)."""
    from policywright.agent.sandbox import STRICT_LAYERS, Sandbox, SandboxLimits, strict_gaps

    with Sandbox(SandboxLimits(isolation="best-effort")) as sandbox:
        layers = sandbox.layers()
    table = Table(title=f"sandbox isolation layers (running as uid {os.geteuid()})")
    table.add_column("layer")
    table.add_column("state")
    table.add_column("detail", overflow="fold")
    rows = [
        (
            "namespaces",
            layers.netns,
            "new user, net, ipc, mount" if layers.userns else "new net, ipc, mount",
        ),
        ("run-uid", layers.run_uid, "a uid per run from a reserved range"),
        ("landlock", layers.landlock_abi > 0, f"ABI {layers.landlock_abi}"),
        ("seccomp", layers.seccomp, "allow-list, EPERM otherwise, no_new_privs"),
    ]
    for name, active, detail in rows:
        state = "[green]on[/green]" if active else "[red]off[/red]"
        table.add_row(name, state, escape(layers.missing.get(name, detail)))
    console.print(table)
    gaps = strict_gaps(layers)
    if gaps:
        console.print(
            f"[red]strict isolation would refuse to run programs[/red]: it needs "
            f"{', '.join(STRICT_LAYERS)}; off: {', '.join(gaps)}. Set sandbox.isolation = "
            "'best-effort' to run with the layers above."
        )
        if require_strict:
            raise typer.Exit(1)
    else:
        console.print("[green]strict isolation is available[/green] (the default).")


def _import_pybullet_quietly() -> None:
    """Import pybullet with stderr closed: its C code prints "pybullet build time: ..." there.

    That line is noise on every command (and looks like a warning); nothing else is said on
    stderr at import time.
    """
    if "pybullet" in sys.modules:
        return
    try:
        saved = os.dup(2)
    except OSError:
        return
    try:
        with open(os.devnull, "w", encoding="utf-8") as null:
            sys.stderr.flush()
            os.dup2(null.fileno(), 2)
            with contextlib.suppress(ImportError):  # reported where a world is built
                import pybullet  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def main() -> None:
    """Entry point: run the app and map errors to the documented exit codes."""
    _import_pybullet_quietly()
    try:
        # Non-standalone click returns the exit code of typer.Exit instead of raising it.
        code = app(standalone_mode=False)
    except typer.Exit as exc:
        code = exc.exit_code
    except UserError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        sys.exit(EXIT_USER)
    except PolicywrightError as exc:
        err_console.print(
            f"[red]error ({exc.actor} must act):[/red] {escape(str(exc))}", soft_wrap=True
        )
        sys.exit(EXIT_BUG if exc.actor == "us" else EXIT_FAILED)
    except typer.Abort:
        sys.exit(130)
    except typer.TyperException as exc:  # typer vendors click: bad options, missing arguments
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            err_console.print(f"[red]error:[/red] {exc}")
        sys.exit(EXIT_USER)
    except pydantic.ValidationError as exc:  # a setting out of range (config, scene)
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors()
        )
        err_console.print(f"[red]error:[/red] invalid setting: {problems}")
        sys.exit(EXIT_USER)
    except Exception as exc:
        logging.getLogger(__name__).exception("internal error")
        err_console.print(
            f"[red]internal error (a bug, please report it):[/red] {escape(str(exc))}"
        )
        sys.exit(EXIT_BUG)
    sys.exit(code if isinstance(code, int) else EXIT_OK)
