"""Agentic evaluations: task suites as data, a resumable runner (process pool or Ray), reports.

A suite is a YAML file of tasks (scene sampler, command template with attribute slots,
ground-truth checker, optional scripted corrections and perturbations, limits). The shipped
suites are ``cap-tabletop`` (the Code-as-Policies simulated benchmark), ``navigation``,
``corrections`` and ``recovery``::

    from policywright.evals import RunOptions, run_eval, write_report

    summary = run_eval(RunOptions(suites=["cap-tabletop"], trials=2), "runs", workers=2)
    write_report(summary.run_dir)

The command line is ``policywright eval`` (see ``policywright eval --help``).
"""

from pathlib import Path

from policywright.evals._episodes import EpisodeResult, EpisodeSpec
from policywright.evals._metrics import CellMetrics, Rate, group_metrics, newcombe_diff, wilson
from policywright.evals._report import pct, suite_order
from policywright.evals._rundir import RunData, load_run
from policywright.evals._runner import ConnectedBackend, RunOptions, RunSummary, run_eval
from policywright.evals._schema import Suite, TaskSpec, load_suite, suite_ids


def write_report(run_dir: str, *, plots: bool = True) -> tuple[str, str]:
    """Write ``report.md`` and a self-contained ``report.html`` into a run folder.

    Args:
        run_dir: The run folder.
        plots: Draw the plots (needs matplotlib, extra ``[eval]``).

    Returns:
        The paths of the Markdown and the HTML report.
    """
    from policywright.evals._report import write_report as _write

    md, page, _ = _write(Path(run_dir), plots=plots)
    return str(md), str(page)


def write_compare(run_a: str, run_b: str, out: str) -> tuple[str, str]:
    """Compare two runs cell by cell (both rates, the difference and its 95% CI).

    Args:
        run_a: The first run folder.
        run_b: The second run folder.
        out: The folder to write ``compare.md`` and ``compare.html`` into.

    Returns:
        The paths of the Markdown and the HTML comparison.
    """
    from policywright.evals._report import write_compare as _write

    md, page, *_ = _write(Path(run_a), Path(run_b), Path(out))
    return str(md), str(page)


__all__ = [
    "CellMetrics",
    "ConnectedBackend",
    "EpisodeResult",
    "EpisodeSpec",
    "Rate",
    "RunData",
    "RunOptions",
    "RunSummary",
    "Suite",
    "TaskSpec",
    "group_metrics",
    "load_run",
    "load_suite",
    "newcombe_diff",
    "pct",
    "run_eval",
    "suite_ids",
    "suite_order",
    "wilson",
    "write_compare",
    "write_report",
]
