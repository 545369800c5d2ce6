"""`policywright eval`: run evaluation suites, report, compare, list.

    policywright eval SUITE|all|RUN_DIR [options]   run (or resume) an evaluation
    policywright eval report RUN_DIR                 report.md + report.html with plots
    policywright eval compare RUN_A RUN_B            two runs side by side, with CIs
    policywright eval list                           suites and their tasks

``SUITE`` is a positional of the group itself, which click cannot mix with subcommands; the
group's class (:class:`EvalGroup`) routes anything that is not a subcommand name to the hidden
``run`` subcommand, so ``policywright eval cap-tabletop --trials 3`` and
``policywright eval run cap-tabletop --trials 3`` are the same.

Exit codes: 0 every planned episode has a result (task failures are measurements, not errors);
1 some episodes ended in infrastructure errors even after their retry (rerun to try them again);
2 the user must act (unknown suite or task, malformed suite file, bad run folder, Ray address
that does not answer); 3 a bug. Errors are raised as PolicywrightError subclasses and mapped
by ``policywright.cli.main``.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from typer.core import TyperGroup

from policywright.errors import UserError

__all__ = ["EvalGroup", "eval_app", "register"]

logger = logging.getLogger(__name__)
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

EXIT_OK, EXIT_FAILED = 0, 1
_SUBCOMMANDS_HELP = (
    "Run an evaluation suite, or all of them, locally or on Ray; report and compare runs.\n\n"
    "policywright eval SUITE|all|RUN_DIR [OPTIONS] runs (or resumes) an evaluation: see "
    "`policywright eval run --help` for its options."
)


class EvalGroup(TyperGroup):
    """A command group whose first argument may be a suite instead of a subcommand."""

    default_command = "run"

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Route ``eval SUITE ...`` (and ``eval --trials 3 SUITE``) to ``eval run``."""
        # ctx is typer's vendored click Context (typer._click): annotated Any, not re-imported.
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


eval_app = typer.Typer(
    cls=EvalGroup,
    help=_SUBCOMMANDS_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help, as the main app (bracketed text stays)
)


def register(app: typer.Typer) -> None:
    """Add the ``eval`` command group to the main app."""
    app.add_typer(eval_app, name="eval")


# -- progress ----------------------------------------------------------------------------------


class _ProgressView:
    """A rich progress bar with ETA on a terminal; one plain line per episode otherwise."""

    def __init__(self, out: Console) -> None:
        self.out = out
        self.progress: Progress | None = None
        self.task: Any = None
        self.ok = 0
        self.failed = 0
        self.infra = 0

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "start":
            self._start(data)
        elif kind == "episode":
            self._episode(data)
        elif kind == "retry":
            self._line(
                f"[yellow]{escape(data['key'])}: infrastructure error, retrying once on a fresh "
                f"worker: {escape(str(data['error']))}[/yellow]"
            )
        elif kind == "log":
            self._line(f"[dim]{escape(str(data['message']))}[/dim]")

    def _line(self, text: str) -> None:
        (self.progress.console if self.progress is not None else self.out).print(text)

    def _start(self, data: dict[str, Any]) -> None:
        self.out.print(
            f"{data['total']} episode(s), {data['skipped']} already finished, "
            f"{data['todo']} to run on {escape(data['backend'])}"
        )
        if self.out.is_terminal and data["todo"]:
            self.progress = Progress(
                SpinnerColumn(),
                TextColumn("[bold]episodes"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[tally]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self.out,
                transient=False,
            )
            self.task = self.progress.add_task("run", total=data["todo"], tally="")
            self.progress.start()

    def _tally(self) -> str:
        text = f"[green]{self.ok} ok[/green] [red]{self.failed} failed[/red]"
        return text + (f" [yellow]{self.infra} infra[/yellow]" if self.infra else "")

    def _episode(self, data: dict[str, Any]) -> None:
        r = data["result"]
        status = r.get("status")
        self.ok += status == "succeeded"
        self.failed += status == "failed"
        self.infra += status == "infra_error"
        if self.progress is not None:
            self.progress.update(self.task, advance=1, tally=self._tally())
            return
        colour = {"succeeded": "green", "failed": "red"}.get(str(status), "yellow")
        why = f" ({r.get('failure_category')})" if r.get("failure_category") else ""
        self.out.print(
            f"[{data['done']}/{data['total']}] {escape(data['key'])}: "
            f"[{colour}]{status}[/{colour}]{why} in {float(r.get('wall_s') or 0):.1f} s"
        )

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


# -- eval run ----------------------------------------------------------------------------------


_VERIFY_MODES: dict[str, Literal["code", "vlm", "both"]] = {
    "code": "code",
    "vlm": "vlm",
    "both": "both",
}


def _verify_mode(value: str) -> Literal["code", "vlm", "both"]:
    if value in _VERIFY_MODES:
        return _VERIFY_MODES[value]
    raise UserError(f"--verify must be code, vlm or both, not {value!r}")


def _llm_settings(config_file: Path | None, timeout_s: float | None) -> dict[str, Any]:
    """The [llm_settings] of the settings file, as JSON, without the API key."""
    from policywright._private.settings import load_config

    config = load_config(config_file)
    settings: dict[str, Any] = config.llm_settings.model_dump(
        mode="json", exclude={"api_key"}, exclude_defaults=True
    )
    if timeout_s is not None:
        settings["timeout_s"] = timeout_s
    return settings


def _skill_selection(pairs: list[str]) -> dict[str, str]:
    """``["grasp=grasp/learned-v1"]`` -> ``{"grasp": "grasp/learned-v1"}``."""
    out: dict[str, str] = {}
    for pair in pairs:
        family, sep, skill_id = pair.partition("=")
        if not sep or not family.strip() or not skill_id.strip():
            raise UserError(f"--skill takes FAMILY=ID (e.g. grasp=grasp/learned-v1), not {pair!r}")
        out[family.strip()] = skill_id.strip()
    return out


def _success_table(data: Any, title: str) -> Table:
    from policywright.evals import group_metrics, pct, suite_order

    table = Table(title=title, title_justify="left")
    for col in ("suite", "split", "task", "success % (95% CI)", "n", "infra"):
        table.add_column(col, justify="right" if col in ("n", "infra") else "left", no_wrap=True)
    for c in group_metrics(data.results, "task", order=suite_order(data)):
        table.add_row(
            c.key["suite"],
            c.key["split"],
            c.key["task_id"],
            pct(c.success),
            str(c.success.n),
            str(c.infra_errors),
        )
    return table


@eval_app.command("run")
def run_eval(
    suite: Annotated[
        str,
        typer.Argument(
            help="A suite id (see `policywright eval list`), 'all', a suite YAML file, or a run "
            "folder to resume."
        ),
    ],
    planner: Annotated[str, typer.Option(help="The planner without a model.")] = "offline",
    llm: Annotated[
        str | None,
        typer.Option(
            help="Plan with a model: openai:<model>, anthropic:<model>, "
            "openai-compatible:<base_url>#<model>, hf:<path>."
        ),
    ] = None,
    split: Annotated[
        list[str] | None, typer.Option("--split", help="Only these splits (repeatable).")
    ] = None,
    task: Annotated[
        list[str] | None, typer.Option("--task", help="Only these tasks (repeatable).")
    ] = None,
    trials: Annotated[
        int | None,
        typer.Option(min=1, max=100_000, help="Trials per (task, split); default: the suite's."),
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Run seed (episode seeds derive from it).")] = 0,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Parallel workers (default: all cores, or the Ray cluster's)."),
    ] = None,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            help="Run on Ray: 'auto' (a running cluster, else a local one) or HOST:PORT.",
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Parent folder of run folders.")] = Path("runs"),
    run_id: Annotated[
        str | None,
        typer.Option(help="Run folder name; an unfinished run with this id is resumed."),
    ] = None,
    gif: Annotated[bool, typer.Option(help="Record a GIF of each episode.")] = False,
    verify: Annotated[
        str, typer.Option(help="How episodes are verified: code, vlm or both (vlm needs --llm).")
    ] = "code",
    skill: Annotated[
        list[str] | None,
        typer.Option(
            "--skill",
            help="A skill variant, FAMILY=ID (repeatable), e.g. grasp=grasp/learned-v1; "
            "see `policywright skills list`.",
        ),
    ] = None,
    config_file: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="A TOML settings file whose [llm_settings] the episodes use (timeouts, retries, "
            "prices, cache; default: $POLICYWRIGHT_CONFIG).",
        ),
    ] = None,
    llm_timeout: Annotated[
        float | None,
        typer.Option(min=1.0, help="Seconds one model request may take (llm_settings.timeout_s)."),
    ] = None,
    timeout_factor: Annotated[
        float,
        typer.Option(
            min=0.01,
            help="An episode is killed (and retried once) after --timeout-base seconds plus "
            "this many wall seconds per second of its simulated-time limit.",
        ),
    ] = 1.0,
    timeout_base: Annotated[float, typer.Option(min=0.0, help="See --timeout-factor.")] = 120.0,
    start_method: Annotated[
        str, typer.Option(help="Local workers' multiprocessing start method.", hidden=True)
    ] = "spawn",
    rehearse: Annotated[
        bool,
        typer.Option(
            "--rehearse/--no-rehearse",
            help="Rehearse each program in a twin built from perception before the real run.",
        ),
    ] = True,
    candidates: Annotated[
        int | None,
        typer.Option(min=1, max=8, help="Programs per attempt (default: 3 offline, 1 --llm)."),
    ] = None,
    rehearsal_budget: Annotated[
        int | None,
        typer.Option(min=0, max=50, help="Pre-motion failures that give their attempt back."),
    ] = None,
    report: Annotated[
        bool, typer.Option("--report/--no-report", help="Write report.md/.html at the end.")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object only.")] = False,
    verbose: Annotated[
        bool,
        typer.Option("-v", "--verbose", help="Log what each episode does (info level) to stderr."),
    ] = False,
) -> None:
    """Run (or resume) an evaluation: SUITE is a suite id, 'all', a YAML file or a run folder."""
    from policywright.evals._rundir import load_run, read_manifest
    from policywright.evals._runner import (
        RunOptions,
        execute_run,
        make_backend,
        open_run,
        plan_run,
    )
    from policywright.evals._schema import suite_ids

    if verbose:
        logging.getLogger("policywright").setLevel(logging.INFO)
    out_console = err_console if as_json else console
    candidate = Path(suite)
    resume = candidate.is_dir() and suite not in suite_ids()
    run_dir, opened = candidate, resume  # a new run's folder exists once open_run made it
    if resume:
        filters = [split, task, trials, llm, run_id, gif or None, skill, config_file, llm_timeout]
        filters += [candidates, rehearsal_budget]
        if (
            any(v for v in filters)
            or planner != "offline"
            or seed
            or verify != "code"
            or not rehearse
        ):
            raise UserError(
                f"{suite} is a run folder: it is resumed with the options it was started with; "
                "give only --workers, --ray or --json (or start a new run from a suite id)"
            )
        run_dir, manifest = candidate, read_manifest(candidate)
    else:
        suites, label = ([*suite_ids()], "all") if suite == "all" else ([suite], None)
        options = RunOptions(
            suites=suites,
            planner=planner,
            llm=llm,
            splits=list(split) if split else None,
            tasks=list(task) if task else None,
            trials=trials,
            seed=seed,
            gif=gif,
            verify=_verify_mode(verify),
            skills=_skill_selection(skill or []),
            llm_settings=_llm_settings(config_file, llm_timeout),
            timeout_base_s=timeout_base,
            timeout_factor=timeout_factor,
            rehearse=rehearse,
            candidates=candidates,
            rehearsal_budget=rehearsal_budget,
        )
        planned = plan_run(options)  # bad names fail here, before Ray starts or a folder exists
    from policywright.evals import ConnectedBackend

    backend = make_backend(ray, workers, start_method)
    # Only a backend that talks to a cluster connects (and closes): declared, not probed.
    connected = backend if isinstance(backend, ConnectedBackend) else None
    view = _ProgressView(out_console)
    try:
        if connected is not None:
            out_console.print(f"[cyan]Ray: {escape(connected.connect())}[/cyan]")
        if not resume:
            run_dir, manifest = open_run(options, out, run_id, label=label, planned=planned)
            opened = True
        out_console.print(f"run folder: [bold]{escape(str(run_dir))}[/bold]")
        t0 = time.monotonic()
        summary = execute_run(run_dir, manifest, backend, on_event=view)
    except KeyboardInterrupt:
        view.close()
        if opened:
            err_console.print(
                f"[yellow]interrupted: finished episodes are saved in {escape(str(run_dir))}; "
                f"resume with `policywright eval {escape(str(run_dir))}`[/yellow]"
            )
        raise
    finally:
        view.close()
        if connected is not None:
            connected.close()
    data = load_run(run_dir)
    paths: dict[str, str] = {}
    if report:
        from policywright.errors import MissingExtraError
        from policywright.evals._report import write_report

        try:
            md, page, data = write_report(run_dir)
        except MissingExtraError as exc:  # the run is done: report without plots, say why
            out_console.print(f"[yellow]report without plots: {escape(str(exc))}[/yellow]")
            md, page, data = write_report(run_dir, plots=False)
        paths = {"markdown": str(md), "html": str(page)}
    infra_left = sum(1 for r in data.results if r.get("status") == "infra_error")
    code = EXIT_FAILED if infra_left or data.missing else EXIT_OK
    if as_json:
        from policywright.evals._metrics import group_metrics

        cells = group_metrics(data.results, "task")
        payload = {
            "run_dir": str(run_dir),
            "summary": summary.model_dump() | {"episodes_per_min": summary.episodes_per_min},
            "report": paths,
            "cells": [c.model_dump() for c in cells],
        }
        console.print_json(json.dumps(payload))
        raise typer.Exit(code)
    console.print(_success_table(data, f"{manifest.run_id}: success by task and split"))
    console.print(
        f"ran {summary.ran} episode(s) in {time.monotonic() - t0:.1f} s "
        f"({summary.episodes_per_min:.1f}/min): {summary.succeeded} succeeded, "
        f"{summary.failed} failed, {summary.infra_errors} infrastructure error(s), "
        f"{summary.retried} retried; {summary.skipped} were already finished"
    )
    if paths:
        console.print(f"report: {escape(paths['markdown'])} and {escape(paths['html'])}")
    if infra_left:
        console.print(
            f"[yellow]{infra_left} episode(s) ended in infrastructure errors; rerun "
            f"`policywright eval {escape(str(run_dir))}` to try them again[/yellow]"
        )
    raise typer.Exit(code)


# -- eval report / compare / list --------------------------------------------------------------


@eval_app.command("report")
def report_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run folder (runs/<id>).")],
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Draw the plots.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
) -> None:
    """Write report.md and report.html (with plots) into a run folder; print the success table."""
    from policywright.evals._metrics import group_metrics
    from policywright.evals._report import summary_markdown, write_report

    md, page, data = write_report(run_dir, plots=plots)
    if as_json:
        groups = {
            g: [c.model_dump() for c in group_metrics(data.results, g)]
            for g in ("task", "split", "family")
        }
        console.print_json(json.dumps({"markdown": str(md), "html": str(page), "metrics": groups}))
        return
    console.print(summary_markdown(data), markup=False, highlight=False, soft_wrap=True)
    console.print(f"\nwrote {escape(str(md))} and {escape(str(page))}")


@eval_app.command("compare")
def compare_cmd(
    run_a: Annotated[Path, typer.Argument(help="The first run folder.")],
    run_b: Annotated[Path, typer.Argument(help="The second run folder.")],
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for compare.md/.html (default: beside RUN_A)."),
    ] = None,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Draw the plot.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the differences as JSON.")] = False,
) -> None:
    """Compare two runs cell by cell: both success rates, the difference and its 95% CI."""
    from policywright.evals._report import write_compare

    md, page, diffs, table = write_compare(run_a, run_b, out, plots=plots)
    if as_json:
        payload = {"markdown": str(md), "html": str(page), "cells": [d.model_dump() for d in diffs]}
        console.print_json(json.dumps(payload))
        return
    console.print(table, markup=False, highlight=False, soft_wrap=True)
    n_sig = sum(1 for d in diffs if d.significant)
    console.print(
        f"\n{n_sig} significant difference(s); wrote {escape(str(md))} and {escape(str(page))}"
    )


@eval_app.command("list")
def list_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """List the evaluation suites and their tasks."""
    from policywright.evals._schema import load_suite, suite_ids

    suites = [load_suite(s) for s in suite_ids()]
    if as_json:
        payload = [
            {
                "id": s.id,
                "description": s.description,
                "trials": s.trials,
                "splits": {sid: s.split(sid).tasks for sid in s.splits},
                "tasks": [
                    {"id": t.id, "family": t.family, "world": t.world, "template": t.template}
                    for t in s.tasks
                ],
            }
            for s in suites
        ]
        console.print_json(json.dumps(payload))
        return
    for s in suites:
        table = Table(
            title=f"{s.id}: {s.description.strip()}",
            title_justify="left",
            caption=f"splits: {', '.join(s.splits)}; {s.trials} trials per cell by default",
            caption_justify="left",
        )
        for col in ("task", "family", "world", "splits", "command template"):
            table.add_column(col, overflow="fold", no_wrap=col == "task")
        for t in s.tasks:
            in_splits = [sid for sid in s.splits if t.id in s.split(sid).tasks]
            table.add_row(t.id, t.family, t.world, ", ".join(in_splits), t.template)
        console.print(table)
