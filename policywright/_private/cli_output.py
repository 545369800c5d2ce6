"""How the CLI shows a task's progress: the event printer and the shared option parsers.

Apart from ``policywright.cli`` so that the subcommand modules (``cli_live``) use them without
importing the CLI module that registers them (an import cycle).
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table

from policywright.errors import UserError

__all__ = ["_Printer", "parse_objects"]


def _fmt_args(event: dict[str, Any]) -> str:
    parts = [json.dumps(a) for a in event.get("args", [])]
    parts += [f"{k}={json.dumps(v)}" for k, v in event.get("kwargs", {}).items()]
    text = ", ".join(parts)
    return text if len(text) < 120 else text[:117] + "... (cut)"


def _code(code: str) -> Syntax:
    # word_wrap: a program line is never cut at the panel's edge (this output is for review).
    return Syntax(code, "python", line_numbers=True, word_wrap=True)


def parse_objects(objects: str | None) -> list[str] | None:
    """The ``--objects`` list; None when the option was not given.

    Raises:
        UserError: the option was given but names nothing (``--objects ,,,``).
    """
    if objects is None:
        return None
    names = [n.strip() for n in objects.split(",") if n.strip()]
    if not names:
        raise UserError(
            f"--objects {objects!r} names no object: give a comma-separated list such as "
            '"red block, blue bowl", or leave the option out for a sampled scene'
        )
    return names


class _Printer:
    """Renders the graph's progress events for a person."""

    def __init__(self, out: Console) -> None:
        self.out = out

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        handler = getattr(self, f"on_{kind}", None)
        if handler is not None:
            handler(event)

    def on_scene(self, e: dict[str, Any]) -> None:
        table = Table(title="scene (as the cameras see it)", title_justify="left")
        for col in ("object", "colour", "x", "y", "z"):
            table.add_column(col, justify="right" if col in "xyz" else "left")
        for o in e["objects"]:
            x, y, z = o["position"]
            table.add_row(o["name"], o["color"], f"{x:.3f}", f"{y:.3f}", f"{z:.3f}")
        self.out.print(table)

    def on_program(self, e: dict[str, Any]) -> None:
        title = f"attempt {e['attempt']}: program ({e['provenance']})"
        self.out.print(Panel(_code(e["code"]), title=title))
        self.out.print(Panel(_code(e["check_code"]), title="check program"))

    def on_plan_failed(self, e: dict[str, Any]) -> None:
        self.out.print(f"[red]planner: {e['error']}[/red]")

    def on_refused(self, e: dict[str, Any]) -> None:
        self.out.print("[red]refused by the static checks:[/red]")
        for line in e["violations"]:
            self.out.print(f"  [red]- {line}[/red]")

    def on_twin(self, e: dict[str, Any]) -> None:
        self.out.print(
            f"[dim]built a twin of the scene from the cameras ({e['objects']} objects)[/dim]"
        )

    def on_rehearse(self, e: dict[str, Any]) -> None:
        self.out.print(f"[bold]rehearsing attempt {e['attempt']} in the twin[/bold]")

    def on_rehearsed(self, e: dict[str, Any]) -> None:
        if e["ok"]:
            self.out.print(
                f"  [green]the twin verified it[/green] [dim]({e['calls']} call(s), "
                f"{e['wall_s']:.1f} s)[/dim]"
            )
        else:
            self.out.print(
                f"  [yellow]failed in the twin ({escape(str(e['status']))}): "
                f"{escape(str(e['message']))}; the robot did not move[/yellow]"
            )

    def on_execute(self, e: dict[str, Any]) -> None:
        self.out.print(f"[bold]executing attempt {e['attempt']} on the robot[/bold]")

    def on_call(self, e: dict[str, Any]) -> None:
        if e.get("ok"):
            mark, tail = "[green]✓[/green]", " -> " + json.dumps(e.get("result"))
        elif e.get("preempted"):
            mark, tail = "[yellow]‖[/yellow]", f": {e['preempted']}"
        else:  # a failed call has no result: say why, never "-> " with nothing after it
            mark, tail = "[red]✗[/red]", f" failed: {e.get('error') or 'no reason given'}"
        tail = tail if len(tail) < 100 else tail[:93] + "... (cut)"
        # The clock the call ended at (cumulative), not the call's own duration.
        self.out.print(
            f"  {mark} line {e['line']:>3}  {escape(e['name'])}({escape(_fmt_args(e))})"
            f"{escape(tail)}  [dim](sim clock {e.get('sim_time', 0.0):.1f} s)[/dim]"
        )

    def on_say(self, e: dict[str, Any]) -> None:
        self.out.print(f"  [cyan]robot says:[/cyan] {e['message']}")

    def on_executed(self, e: dict[str, Any]) -> None:
        r = e["report"]
        if r.get("output"):
            self.out.print(Panel(r["output"].rstrip(), title="program output"))
        if r["status"] != "ok":
            where = f" at line {r['line']}" if r.get("line") else ""
            self.out.print(f"[red]execution {r['status']}{where}: {r['message']}[/red]")

    def on_recovery(self, e: dict[str, Any]) -> None:
        self.out.print(f"  [yellow]safe stop: {e['actions']}[/yellow]")

    def on_preempted(self, e: dict[str, Any]) -> None:
        self.out.print(f"[yellow]program paused: {e.get('message', '')}[/yellow]")

    def on_correction(self, e: dict[str, Any]) -> None:
        colour = "green" if e.get("status") == "applied" else "yellow"
        self.out.print(
            f"[{colour}]correction {e.get('text', '')!r} ({e.get('kind', '?')}): "
            f"{e.get('status')}: {e.get('message', '')}[/{colour}]"
        )

    def on_clarified(self, e: dict[str, Any]) -> None:
        self.out.print(f"[cyan]command clarified: {e['command']!r}[/cyan]")

    def on_hint(self, e: dict[str, Any]) -> None:
        self.out.print(f"[cyan]trying again with the hint {e['text']!r}[/cyan]")

    def on_verdict(self, e: dict[str, Any]) -> None:
        for frame in e.get("frames", []):
            self.out.print(f"  [dim]frame: {frame}[/dim]")
        colour = "green" if e["success"] else "red"
        word = "achieved" if e["success"] else "not achieved"
        self.out.print(f"[{colour}]verdict ({e['source']}): {word}: {e['reason']}[/{colour}]")
