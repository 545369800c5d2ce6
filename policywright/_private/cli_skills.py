"""`policywright skills list|train|eval`: the skill registry on the command line.

Errors are raised as PolicywrightError subclasses; ``policywright.cli.main`` maps them to the
exit codes (2 for a user error such as an unknown name, with did-you-mean).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table

from policywright.errors import MissingExtraError, PolicywrightError, UserError

if TYPE_CHECKING:
    from policywright.skills import SkillEvalReport, SkillInfo, SkillRegistry

skills_app = typer.Typer(
    help="List, train and evaluate skills.",
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help, as the main app ("[train] extra" stays readable)
)

logger = logging.getLogger(__name__)
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def _registry() -> SkillRegistry:
    from policywright.skills import SkillRegistry

    return SkillRegistry.from_entry_points()


def _weights(info: SkillInfo) -> dict[str, Any]:
    files = [Path(p) for p in info.weights]
    present = [p for p in files if p.is_file()]
    return {
        "files": [str(p) for p in files],
        "present": len(present) == len(files),
        "bytes": sum(p.stat().st_size for p in present),
    }


def _weights_text(w: dict[str, Any], learned: bool) -> str:
    if not w["files"]:
        return "[red]not declared[/red]" if learned else "-"
    if not w["present"]:
        return "[red]missing[/red]"
    return f"{w['bytes'] / 1024:.0f} KiB"


@skills_app.command("list")
def list_skills(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """List every registered skill variant (built-ins and installed plugins)."""
    reg = _registry()
    rows: list[dict[str, Any]] = []
    for info in reg:
        rows.append(
            {
                "id": info.id,
                "family": info.family,
                "world": info.world,
                "kind": "learned" if info.learned else "scripted",
                "weights": _weights(info),
                "evaluate": info.evaluate is not None,
                "summary": info.summary,
            }
        )
    broken = [b.describe() for b in reg.broken]
    if as_json:
        console.print_json(json.dumps({"skills": rows, "broken": broken}))
        return
    if console.width < 120:
        # Too narrow for six columns (the summary broke mid-word): one entry per block.
        console.print("[bold]skills[/bold]")
        for r in rows:
            weights = _weights_text(r["weights"], r["kind"] == "learned")
            console.print(
                f"[bold]{escape(r['id'])}[/bold]  {r['family']} · {r['world']} · {r['kind']}"
                f" · weights {weights}"
            )
            console.print(Padding(escape(r["summary"]), (0, 0, 0, 4)))
    else:
        table = Table(title="skills", title_justify="left")
        for col in ("id", "family", "world", "kind", "weights", "summary"):
            table.add_column(col, no_wrap=col != "summary", ratio=1 if col == "summary" else None)
        for r in rows:
            weights = _weights_text(r["weights"], r["kind"] == "learned")
            table.add_row(r["id"], r["family"], r["world"], r["kind"], weights, r["summary"])
        console.print(table)
    for line in broken:
        err_console.print(f"[yellow]skipped a broken plugin:[/yellow] {line}")


@skills_app.command("train")
def train_skill(
    name: Annotated[str, typer.Argument(help="A learned skill id, e.g. grasp/learned-v1.")],
    out: Annotated[Path, typer.Option(help="Folder for the trained weights.")] = Path("weights"),
    seed: Annotated[int, typer.Option(min=0, help="Training seed.")] = 0,
) -> None:
    """Train a learned skill's weights (needs the [train] extra)."""
    info = _registry().get(name)
    if not info.learned or info.train is None:
        raise UserError(
            f"{info.id} is a scripted skill: there is nothing to train "
            f"(learned variants: {_learned_ids()})"
        )
    out.mkdir(parents=True, exist_ok=True)
    try:
        path = info.train(out, seed)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] == "torch":
            raise MissingExtraError("train", "torch") from exc
        raise
    console.print(f"trained {info.id} (seed {seed}): {path}")


def _learned_ids() -> str:
    ids = [i.id for i in _registry() if i.learned]
    return ", ".join(ids) or "none installed"


def _targets(reg: SkillRegistry, name: str, compare: bool) -> tuple[SkillInfo, list[SkillInfo]]:
    """The named variant (or a family's first evaluable one) and the variants to evaluate."""
    if "/" in name:
        primary = reg.get(name)
        family = reg.by_family(primary.family)
    else:
        family = reg.by_family(name)
        evaluable = [i for i in family if i.evaluate is not None]
        if not evaluable:
            raise UserError(f"no {name!r} skill has an evaluation")
        primary = evaluable[0]
        compare = True  # naming a family means: all of its variants
    if primary.evaluate is None:
        raise UserError(f"{primary.id} has no evaluation")
    others = [i for i in family if i.id != primary.id and i.evaluate is not None]
    return primary, [primary, *others] if compare else [primary]


def _row(report: SkillEvalReport) -> dict[str, Any]:
    row = report.model_dump()
    row["success_rate"] = report.success_rate
    return row


def _count_note(row: dict[str, Any], trials: int) -> str:
    """Why a variant ran more trials than asked (``--trials 3`` read "6/6" unexplained)."""
    done = row.get("trials")
    if not isinstance(done, int) or done == trials:
        return ""
    details = row.get("details") or {}
    splits = sorted(k.removesuffix("_successes") for k in details if k.endswith("_successes"))
    per = details.get("trials_per_split", trials)
    if splits:
        return (
            f"{row['skill_id']}: {per} trials on each of {len(splits)} splits "
            f"({', '.join(splits)}) = {done}"
        )
    return f"{row['skill_id']}: ran {done} trials for --trials {trials}"


@skills_app.command("eval")
def eval_skill(
    name: Annotated[str, typer.Argument(help="A skill id (grasp/learned-v1) or a family (grasp).")],
    trials: Annotated[int, typer.Option(min=1, max=10_000, help="Seeded trials.")] = 20,
    seed: Annotated[int, typer.Option(min=0, help="First trial seed.")] = 0,
    compare: Annotated[
        bool,
        typer.Option("--compare/--no-compare", help="Also evaluate the family's other variants."),
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Evaluate a skill on seeded trials (success rate, precision, sim time), side by side."""
    reg = _registry()
    primary, infos = _targets(reg, name, compare)
    rows: list[dict[str, Any]] = []
    for info in infos:
        assert info.evaluate is not None  # _targets keeps evaluable variants only
        if not as_json:
            err_console.print(
                f"[dim]evaluating {info.id} on {trials} trials (seed {seed})...[/dim]"
            )
        try:
            report = info.evaluate(trials, seed)
        except PolicywrightError as exc:
            if info is primary:
                raise
            # A broken sibling (weights missing) must not hide the requested result.
            rows.append({"skill_id": info.id, "error": str(exc)})
            continue
        rows.append(_row(report))
    if as_json:
        console.print_json(json.dumps({"trials": trials, "seed": seed, "results": rows}))
        return
    table = Table(title=f"{primary.family} skills: {trials} seeded trials from seed {seed}")
    units = sorted({r["precision_unit"] for r in rows if r.get("precision_unit")})
    notes = ["precision: " + "; ".join(units)] if units else []
    notes += sorted({n for r in rows if (n := _count_note(r, trials))})
    table.caption = "\n".join(notes) or None
    width = max(len(r["skill_id"]) for r in rows)
    table.add_column("id", no_wrap=True, min_width=width)
    table.add_column("kind", no_wrap=True)
    for col in ("success", "precision", "sim s / trial"):
        table.add_column(col, justify="right", no_wrap=True)
    for r in rows:
        kind = "learned" if reg.get(r["skill_id"]).learned else "scripted"
        if "error" in r:
            table.add_row(r["skill_id"], kind, f"[red]{r['error']}[/red]", "", "")
            continue
        prec = "-" if r["precision"] is None else f"{r['precision']:.2f}"
        table.add_row(
            r["skill_id"],
            kind,
            f"{r['successes']}/{r['trials']} ({100 * r['success_rate']:.0f}%)",
            prec,
            f"{r['sim_time_s']:.2f}",
        )
    console.print(table)
