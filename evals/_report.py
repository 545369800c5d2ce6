"""Reports of evaluation runs: Markdown and a self-contained HTML page with plots.

``write_report(run_dir)`` writes ``report.md`` (plots as PNG files under ``report/``) and
``report.html`` (the same content, plots embedded as base64 PNG, inline CSS, no external
resources) into the run folder. ``write_compare(run_a, run_b, out)`` does the same for two runs
side by side. Plots use matplotlib's Agg backend, imported only here (extra ``[eval]``).

A suite with published numbers (cap-tabletop) also gets the paper's layout: Table VI (per task,
per split) and Table III (per family) with our success rates beside CaP, the NL planner and
CLIPort, taken from the suite file's ``reference`` table.
"""

from __future__ import annotations

import base64
import html
import io
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policywright.errors import MissingExtraError, PolicywrightError
from policywright.evals._metrics import (
    FAILURE_CATEGORIES,
    CellDiff,
    CellMetrics,
    Rate,
    compare_cells,
    group_metrics,
)
from policywright.evals._rundir import RunData, atomic_write_text, load_run

__all__ = [
    "Document",
    "build_compare",
    "build_report",
    "pct",
    "suite_order",
    "write_compare",
    "write_report",
]

logger = logging.getLogger(__name__)

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
table { border-collapse: collapse; margin: 0.8em 0 1.6em; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f0f0f0; }
td:first-child, th:first-child { text-align: left; }
tr.total td { font-weight: bold; background: #fafafa; }
figure { margin: 1em 0 2em; }
figcaption { color: #555; font-size: 0.9em; }
code { background: #f4f4f4; padding: 0 0.2em; }
p.note { color: #555; }
"""


# -- a small document model rendered twice (Markdown and HTML) ---------------------------------


@dataclass
class _Table:
    header: list[str]
    rows: list[list[str]]
    total_rows: set[int] = field(default_factory=set)


@dataclass
class _Figure:
    name: str
    caption: str
    png: bytes


@dataclass
class Document:
    """Headings, paragraphs, tables and figures, rendered as Markdown or HTML."""

    title: str
    blocks: list[tuple[str, Any]] = field(default_factory=list)

    def heading(self, text: str, level: int = 2) -> None:
        """Add a section heading."""
        self.blocks.append(("h", (level, text)))

    def text(self, text: str, *, note: bool = False) -> None:
        """Add a paragraph (``code`` spans in backticks are kept)."""
        self.blocks.append(("p", (text, note)))

    def table(
        self, header: list[str], rows: list[list[str]], totals: set[int] | None = None
    ) -> None:
        """Add a table; ``totals`` are the indexes of summary rows (shown in bold)."""
        self.blocks.append(("t", _Table(header, rows, totals or set())))

    def figure(self, name: str, caption: str, png: bytes | None) -> None:
        """Add a plot (skipped when None: nothing to plot)."""
        if png is not None:
            self.blocks.append(("f", _Figure(name, caption, png)))

    def figures(self) -> list[_Figure]:
        """The figures, in order."""
        return [b for k, b in self.blocks if k == "f"]

    def markdown(self, figure_dir: str = "report") -> str:
        """Markdown; figures link to ``<figure_dir>/<name>.png``."""
        out = [f"# {self.title}", ""]
        for kind, block in self.blocks:
            if kind == "h":
                level, text = block
                out += ["#" * level + " " + text, ""]
            elif kind == "p":
                text, note = block
                out += [f"_{text}_" if note else text, ""]
            elif kind == "t":
                out += [_md_table(block), ""]
            elif kind == "f":
                out += [f"![{block.caption}]({figure_dir}/{block.name}.png)", ""]
        return "\n".join(out).rstrip() + "\n"

    def html(self) -> str:
        """A self-contained HTML page (inline CSS, figures as base64 PNG data URIs)."""
        esc = html.escape
        out = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{esc(self.title)}</title>",
            f"<style>{_CSS}</style></head><body>",
            f"<h1>{esc(self.title)}</h1>",
        ]
        for kind, block in self.blocks:
            if kind == "h":
                level, text = block
                out.append(f"<h{level}>{esc(text)}</h{level}>")
            elif kind == "p":
                text, note = block
                cls = ' class="note"' if note else ""
                out.append(f"<p{cls}>{_inline_code(esc(text))}</p>")
            elif kind == "t":
                out.append(_html_table(block))
            elif kind == "f":
                data = base64.b64encode(block.png).decode("ascii")
                out.append(
                    f'<figure><img alt="{esc(block.caption)}" src="data:image/png;base64,{data}">'
                    f"<figcaption>{esc(block.caption)}</figcaption></figure>"
                )
        out.append("</body></html>")
        return "\n".join(out) + "\n"


def _inline_code(escaped: str) -> str:
    parts = escaped.split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _md_table(t: _Table) -> str:
    def row(cells: Sequence[str], bold: bool = False) -> str:
        cells = [c.replace("|", "\\|") for c in cells]
        if bold:
            cells = [f"**{c}**" if c else c for c in cells]
        return "| " + " | ".join(cells) + " |"

    lines = [row(t.header), "| " + " | ".join("---" for _ in t.header) + " |"]
    lines += [row(r, i in t.total_rows) for i, r in enumerate(t.rows)]
    return "\n".join(lines)


def _html_table(t: _Table) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for h in t.header)
    body = []
    for i, r in enumerate(t.rows):
        cls = ' class="total"' if i in t.total_rows else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


# -- formatting --------------------------------------------------------------------------------


def pct(rate: Rate | None, *, ci: bool = True) -> str:
    """Percent with its Wilson interval, e.g. "92.0 [81.2, 96.8]"; "-" when empty."""
    if rate is None or rate.n == 0:
        return "-"
    text = f"{100 * rate.rate:.1f}"
    return f"{text} [{100 * rate.low:.1f}, {100 * rate.high:.1f}]" if ci else text


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _paper(value: float | None) -> str:
    return "N/A" if value is None else f"{value:.1f}"


# -- plots -------------------------------------------------------------------------------------


def _pyplot() -> Any:
    try:
        import matplotlib
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] == "matplotlib":
            raise MissingExtraError("eval", "matplotlib") from exc
        raise
    matplotlib.use("Agg", force=True)  # no display; must precede pyplot's import
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    _pyplot().close(fig)
    return buf.getvalue()


def _rate_bars(
    ax: Any, groups: list[str], series: list[tuple[str, list[Rate | None]]], title: str
) -> None:
    """Grouped bars of success rates with Wilson whiskers."""
    width = 0.8 / max(1, len(series))
    for j, (name, rates) in enumerate(series):
        xs, ys, lo, hi = [], [], [], []
        for i, r in enumerate(rates):
            if r is None or r.n == 0:
                continue
            xs.append(i - 0.4 + width * (j + 0.5))
            ys.append(100 * r.rate)
            lo.append(100 * (r.rate - r.low))
            hi.append(100 * (r.high - r.rate))
        ax.bar(xs, ys, width, yerr=[lo, hi], capsize=2, label=name)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups, rotation=35, ha="right", fontsize=8)
    ax.set_ylim(0, 105)
    ax.set_ylabel("success (%)")
    ax.set_title(title, fontsize=10)
    if len(series) > 1:
        ax.legend(fontsize=8)


def plot_success(cells: Sequence[CellMetrics]) -> bytes:
    """Success by task (x) and split (bars) per suite, with 95% Wilson whiskers."""
    plt = _pyplot()
    suites = list(dict.fromkeys(c.key["suite"] for c in cells))
    fig, axes = plt.subplots(len(suites), 1, figsize=(10, 3.6 * len(suites)), squeeze=False)
    for ax, suite in zip(axes[:, 0], suites, strict=True):
        mine = [c for c in cells if c.key["suite"] == suite]
        tasks = list(dict.fromkeys(c.key["task_id"] for c in mine))
        splits = list(dict.fromkeys(c.key["split"] for c in mine))
        index = {(c.key["split"], c.key["task_id"]): c.success for c in mine}
        series = [(s, [index.get((s, t)) for t in tasks]) for s in splits]
        _rate_bars(ax, tasks, series, f"{suite}: success by task and split (95% CI)")
    fig.tight_layout()
    return _png(fig)


def plot_distributions(results: Sequence[Mapping[str, Any]]) -> bytes | None:
    """Histograms of tokens per episode and of latency / wall time (None: nothing to show)."""
    valid = [r for r in results if r.get("status") != "infra_error"]
    if not valid:
        return None
    plt = _pyplot()
    panels: list[tuple[str, list[tuple[str, list[float]]]]] = []
    tokens = [
        (label, [float(r.get(k) or 0) for r in valid])
        for label, k in (
            ("input", "tokens_in"),
            ("cached", "tokens_cached"),
            ("output", "tokens_out"),
        )
    ]
    if any(v for _, vs in tokens for v in vs):
        panels.append(("tokens per episode", tokens))
    latency = [
        float(r["latency_first_motion_s"])
        for r in valid
        if r.get("latency_first_motion_s") is not None
    ]
    times = [("wall s", [float(r.get("wall_s") or 0) for r in valid])]
    if latency:
        times.insert(0, ("latency to first motion s", latency))
    panels.append(("seconds per episode", times))
    panels.append(
        ("simulated seconds per episode", [("sim s", [float(r.get("sim_s") or 0) for r in valid])])
    )
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.2), squeeze=False)
    for ax, (title, series) in zip(axes[0], panels, strict=True):
        for label, values in series:
            ax.hist(values, bins=20, alpha=0.6, label=label)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("episodes")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def plot_failures(cells: Sequence[CellMetrics]) -> bytes | None:
    """Failure categories per cell as stacked horizontal bars (None: no failures)."""
    if not any(c.failures for c in cells):
        return None
    plt = _pyplot()
    cats = [c for c in FAILURE_CATEGORIES if any(cell.failures.get(c) for cell in cells)]
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(cells) + 1.5))
    labels = [c.label() for c in cells]
    left = [0] * len(cells)
    for cat in cats:
        counts = [c.failures.get(cat, 0) for c in cells]
        ax.barh(labels, counts, left=left, label=cat)
        left = [a + b for a, b in zip(left, counts, strict=True)]
    ax.invert_yaxis()
    ax.set_xlabel("failed episodes")
    ax.set_title("failure categories", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return _png(fig)


def plot_compare(diffs: Sequence[CellDiff], name_a: str, name_b: str) -> bytes | None:
    """Both runs' rates per cell (left) and the difference with Newcombe's CI (right)."""
    both = [d for d in diffs if d.a is not None or d.b is not None]
    if not both:
        return None
    plt = _pyplot()
    labels = [d.label() for d in both]
    fig, (ax1, ax2) = plt.subplots(
        1, 2, figsize=(12, 0.38 * len(both) + 1.8), gridspec_kw={"width_ratios": [3, 2]}
    )
    for offset, name, rates in (
        (-0.18, name_a, [d.a for d in both]),
        (0.18, name_b, [d.b for d in both]),
    ):
        ys, xs, lo, hi = [], [], [], []
        for i, r in enumerate(rates):
            if r is None or r.n == 0:
                continue
            ys.append(i + offset)
            xs.append(100 * r.rate)
            lo.append(100 * (r.rate - r.low))
            hi.append(100 * (r.high - r.rate))
        ax1.errorbar(xs, ys, xerr=[lo, hi], fmt="o", capsize=2, label=name)
    ax1.set_yticks(range(len(both)))
    ax1.set_yticklabels(labels, fontsize=8)
    ax1.invert_yaxis()
    ax1.set_xlim(-2, 102)
    ax1.set_xlabel("success (%) with 95% Wilson CI")
    ax1.legend(fontsize=8)
    for i, d in enumerate(both):
        if d.diff is None or d.low is None or d.high is None:
            continue
        colour = "tab:red" if d.significant else "tab:gray"
        ax2.errorbar(
            [100 * d.diff],
            [i],
            xerr=[[100 * (d.diff - d.low)], [100 * (d.high - d.diff)]],
            fmt="o",
            capsize=2,
            color=colour,
        )
    ax2.axvline(0, color="black", linewidth=0.8)
    ax2.set_yticks(range(len(both)))
    ax2.set_yticklabels([])
    ax2.set_ylim(ax1.get_ylim())
    ax2.set_xlabel(f"{name_a} - {name_b} (points, 95% Newcombe CI; red: significant)")
    fig.tight_layout()
    return _png(fig)


# -- the run report ----------------------------------------------------------------------------


def suite_order(data: RunData) -> Callable[[Mapping[str, str]], Any]:
    """A sort key for metric cells: the manifest's order of suites, splits and tasks.

    Args:
        data: The run (its manifest gives the order).

    Returns:
        The key function for ``group_metrics(..., order=...)``.
    """
    rank: dict[tuple[str, str], int] = {}
    for e in data.manifest.episodes:
        for field_name, value in (
            ("suite", e.suite_id),
            ("split", str(e.spec.get("split"))),
            ("task_id", str(e.spec.get("task_id"))),
            ("family", e.family),
        ):
            rank.setdefault((field_name, value), len(rank))
    return lambda key: tuple(rank.get((k, v), 1 << 30) for k, v in key.items())


def _load_suite_or_none(ref: str) -> Any:
    from policywright.evals._schema import load_suite

    try:
        return load_suite(ref)
    except PolicywrightError as exc:
        logger.warning("cannot load suite %s for its reference numbers: %s", ref, exc)
        return None


def _reference_section(doc: Document, data: RunData, suite_ref: str) -> None:
    suite = _load_suite_or_none(suite_ref)
    if suite is None or suite.reference is None:
        return
    ref = suite.reference
    mine = [r for r in data.results if r.get("suite") == suite.id]
    if not mine:
        return
    order = suite_order(data)
    by_task = {
        (c.key["split"], c.key["task_id"]): c for c in group_metrics(mine, "task", order=order)
    }
    by_family = {
        (c.key["split"], c.key["family"]): c for c in group_metrics(mine, "family", order=order)
    }
    by_split = {c.key["split"]: c for c in group_metrics(mine, "split", order=order)}
    methods = list(ref.methods)
    doc.heading(f"{suite.id}: our success beside the paper's (Table VI layout)")
    doc.text(f"Paper numbers (% success): {ref.source}", note=True)
    for split in suite.splits:
        if split not in by_split:
            continue
        doc.heading(split, 3)
        header = ["task", "family", *methods, "ours (95% CI)", "n"]
        rows: list[list[str]] = []
        for task in suite.tasks_for(split):
            cell = by_task.get((split, task.id))
            paper = ref.cells.get(split, {}).get(task.id, [None] * len(methods))
            rows.append(
                [
                    task.id,
                    task.family,
                    *(_paper(v) for v in paper),
                    pct(cell.success if cell else None),
                    str(cell.success.n if cell else 0),
                ]
            )
        totals: set[int] = set()
        for group, paper in ref.totals.get(split, {}).items():
            cell = by_split.get(split) if group == "total" else by_family.get((split, group))
            totals.add(len(rows))
            rows.append(
                [
                    group.capitalize(),
                    "",
                    *(_paper(v) for v in paper),
                    pct(cell.success if cell else None),
                    str(cell.success.n if cell else 0),
                ]
            )
        doc.table(header, rows, totals)
    doc.heading(f"{suite.id}: per family (Table III layout)", 3)
    rows = []
    for split in suite.splits:
        for group, paper in ref.totals.get(split, {}).items():
            if group == "total":
                continue
            cell = by_family.get((split, group))
            rows.append(
                [split, group, *(_paper(v) for v in paper), pct(cell.success if cell else None)]
            )
    doc.table(["train/test", "family", *methods, "ours (95% CI)"], rows)


def _setup_of(opts: dict[str, Any]) -> str:
    """The planner, and what else differs from the defaults (verification, skill variants)."""
    text = opts.get("llm") or f"{opts.get('planner', 'offline')} planner"
    if opts.get("verify", "code") != "code":
        text += f" · verify {opts['verify']}"
    skills = opts.get("skills") or {}
    if skills:
        text += " · skills " + ", ".join(f"{k}={v}" for k, v in sorted(skills.items()))
    return text


def build_report(data: RunData, *, plots: bool = True) -> Document:
    """The report of one run as a :class:`Document`.

    Args:
        data: The run, read with :func:`load_run`.
        plots: Draw the plots (needs matplotlib).
    """
    m = data.manifest
    opts = m.options
    order = suite_order(data)
    doc = Document(f"Evaluation report: {m.run_id}")
    planner = _setup_of(opts)
    infra = sum(1 for r in data.results if r.get("status") == "infra_error")
    doc.text(
        f"Suites {', '.join(m.suites)} · planner {planner} · seed {opts.get('seed')} · "
        f"trials per cell {opts.get('trials') or 'suite default'} · created {m.created} with "
        f"policywright {m.policywright_version}"
    )
    doc.text(
        f"{len(data.results)} of {len(m.episodes)} episodes finished"
        + (
            f" ({data.missing} not run yet: resume with `policywright eval {data.path}`)"
            if data.missing
            else ""
        )
        + f"; {infra} infrastructure error(s) after retry; {data.infra_retries} episode(s) retried "
        "after an infrastructure error. Infrastructure errors are left out of success rates."
    )
    if not data.results:
        doc.text("No episode has finished yet.", note=True)
        return doc
    tasks = group_metrics(data.results, "task", order=order)
    splits = group_metrics(data.results, "split", order=order)
    families = group_metrics(data.results, "family", order=order)

    doc.heading("Success by task and split")
    rows = [
        [
            c.key["suite"],
            c.key["split"],
            c.key["task_id"],
            pct(c.success),
            str(c.success.n),
            str(c.infra_errors),
        ]
        for c in tasks
    ]
    doc.table(["suite", "split", "task", "success % (95% CI)", "n", "infra"], rows)
    doc.heading("By split and family", 3)
    rows = [
        [
            c.key["suite"],
            c.key["split"],
            c.key.get("family", "all"),
            pct(c.success),
            str(c.success.n),
        ]
        for c in [*families, *splits]
    ]
    rows.sort(key=lambda r: (r[0], r[1], r[2] == "all"))
    doc.table(
        ["suite", "split", "family", "success % (95% CI)", "n"],
        rows,
        {i for i, r in enumerate(rows) if r[2] == "all"},
    )
    if plots:
        doc.figure(
            "success", "Success by task and split, 95% Wilson intervals", plot_success(tasks)
        )

    corrected = [c for c in tasks if c.repeat_success is not None or c.corrections.total]
    if corrected:

        def needed(key: Mapping[str, str]) -> str:
            counts = [0, 0, 0, 0]
            for r in data.results:
                if r.get("success") and all(r.get(k) == v for k, v in key.items()):
                    counts[min(int(r.get("corrections") or 0), 3)] += 1
            return " / ".join(str(n) for n in counts)

        doc.heading("Corrections")
        header = ["suite", "split", "task", "success after corrections %"]
        header += ["corrections / episode", "successes after 0 / 1 / 2 / 3+", "repeat needs none %"]
        rows = []
        for c in corrected:
            rows.append([c.key["suite"], c.key["split"], c.key["task_id"], pct(c.success)])
            rows[-1] += [_num(c.corrections.mean), needed(c.key), pct(c.repeat_success)]
        doc.table(header, rows)
        doc.text(
            "Repeat: the same command on a fresh copy of the scene, with the program memory "
            "learned from the corrections; it needs none when the person is satisfied at once.",
            note=True,
        )
    perturbed = [c for c in tasks if c.recovered is not None or c.noticed is not None]
    if perturbed:
        doc.heading("Recovery from perturbations")
        doc.table(
            ["suite", "split", "task", "noticed %", "recovered %", "attempts"],
            [
                [
                    c.key["suite"],
                    c.key["split"],
                    c.key["task_id"],
                    pct(c.noticed),
                    pct(c.recovered),
                    _num(c.attempts.mean),
                ]
                for c in perturbed
            ],
        )

    doc.heading("Attempts, tokens, cost and time")
    doc.table(
        [
            "suite / split",
            "attempts",
            "tokens in",
            "cached",
            "out",
            "cost $",
            "first motion s (median / p90)",
            "wall s (mean / median / p90)",
            "sim s (mean / median / p90)",
        ],
        [
            [
                c.label(),
                _num(c.attempts.mean),
                _num(c.tokens_in.mean, 0),
                _num(c.tokens_cached.mean, 0),
                _num(c.tokens_out.mean, 0),
                _num(c.cost_usd.total, 4),
                f"{_num(c.latency_first_motion_s.median)} / {_num(c.latency_first_motion_s.p90)}",
                f"{_num(c.wall_s.mean)} / {_num(c.wall_s.median)} / {_num(c.wall_s.p90)}",
                f"{_num(c.sim_s.mean)} / {_num(c.sim_s.median)} / {_num(c.sim_s.p90)}",
            ]
            for c in splits
        ],
    )
    doc.text("Token counts and attempts are means per episode; cost is the total.", note=True)
    if plots:
        doc.figure(
            "distributions",
            "Tokens, latency and time per episode",
            plot_distributions(data.results),
        )

    doc.heading("Failure categories")
    cats = [c for c in FAILURE_CATEGORIES if any(cell.failures.get(c) for cell in splits)]
    if cats:
        doc.table(
            ["suite / split", "failed", *cats],
            [
                [
                    c.label(),
                    str(sum(c.failures.values())),
                    *(str(c.failures.get(k, 0)) for k in cats),
                ]
                for c in splits
            ],
        )
        if plots:
            doc.figure(
                "failures",
                "Failure categories per task",
                plot_failures([c for c in tasks if c.failures]),
            )
    else:
        doc.text("No failures.", note=True)

    for ref in m.suites:
        _reference_section(doc, data, ref)
    return doc


def summary_markdown(data: RunData) -> str:
    """The success table alone (what ``policywright eval report`` prints)."""
    tasks = group_metrics(data.results, "task", order=suite_order(data))
    rows = [
        [c.key["suite"], c.key["split"], c.key["task_id"], pct(c.success), str(c.success.n)]
        for c in tasks
    ]
    return _md_table(_Table(["suite", "split", "task", "success % (95% CI)", "n"], rows))


def _write(doc: Document, folder: Path, stem: str) -> tuple[Path, Path]:
    fig_dir = folder / stem
    for f in doc.figures():
        fig_dir.mkdir(parents=True, exist_ok=True)
        (fig_dir / f"{f.name}.png").write_bytes(f.png)
    md, page = folder / f"{stem}.md", folder / f"{stem}.html"
    atomic_write_text(md, doc.markdown(stem))
    atomic_write_text(page, doc.html())
    return md, page


def write_report(run_dir: Path, *, plots: bool = True) -> tuple[Path, Path, RunData]:
    """Write ``report.md`` (+ ``report/*.png``) and ``report.html`` into a run folder.

    Raises:
        UserError: not a run folder, or one of another format version.
        MissingExtraError: matplotlib is missing (plots=True).
    """
    data = load_run(run_dir)
    md, page = _write(build_report(data, plots=plots), run_dir, "report")
    return md, page, data


# -- comparing two runs ------------------------------------------------------------------------


def build_compare(a: RunData, b: RunData, *, plots: bool = True) -> tuple[Document, list[CellDiff]]:
    """Two runs side by side per cell, with the difference and Newcombe's 95% interval."""
    name_a, name_b = a.manifest.run_id, b.manifest.run_id
    if name_a == name_b:
        name_a, name_b = f"A ({name_a})", f"B ({name_b})"
    doc = Document(f"Comparison: {name_a} vs {name_b}")
    for label, d in ((name_a, a), (name_b, b)):
        o = d.manifest.options
        doc.text(
            f"{label}: {d.path} · suites {', '.join(d.manifest.suites)} · planner "
            f"{_setup_of(o)} · seed {o.get('seed')} · "
            f"{len(d.results)}/{len(d.manifest.episodes)} episodes"
        )
    doc.text(
        "Difference = A - B in percentage points. The 95% interval is Newcombe's hybrid score "
        "interval from the two Wilson intervals (independent samples); a cell is significant "
        "when it excludes 0.",
        note=True,
    )
    diffs: list[CellDiff] = []
    for grouping, title in (("task", "Per task and split"), ("split", "Per split")):
        cells_a = group_metrics(a.results, grouping, order=suite_order(a))
        cells_b = group_metrics(b.results, grouping, order=suite_order(b))
        part = compare_cells(cells_a, cells_b)
        diffs.extend(part)
        doc.heading(title)
        rows = [
            [
                d.label(),
                pct(d.a),
                pct(d.b),
                "-" if d.diff is None else f"{100 * d.diff:+.1f}",
                "-"
                if d.low is None or d.high is None
                else f"[{100 * d.low:+.1f}, {100 * d.high:+.1f}]",
                "yes" if d.significant else "no",
            ]
            for d in part
        ]
        doc.table(["cell", f"{name_a} %", f"{name_b} %", "A - B", "95% CI", "significant"], rows)
        if plots and grouping == "task":
            doc.figure(
                "compare", f"{name_a} vs {name_b} per cell", plot_compare(part, name_a, name_b)
            )
    return doc, diffs


def write_compare(
    run_a: Path, run_b: Path, out: Path | None = None, *, plots: bool = True
) -> tuple[Path, Path, list[CellDiff], str]:
    """Write ``compare.md`` (+ PNGs) and ``compare.html`` for two runs.

    Args:
        run_a: The first run folder.
        run_b: The second.
        out: The folder to write into (default: ``<runs>/compare-<a>-vs-<b>``, beside run A).
        plots: Draw the plot.

    Returns:
        The Markdown path, the HTML path, the per-cell differences and the Markdown text of the
        per-task table.
    """
    a, b = load_run(run_a), load_run(run_b)
    folder = out or run_a.parent / f"compare-{a.manifest.run_id}-vs-{b.manifest.run_id}"
    folder.mkdir(parents=True, exist_ok=True)
    doc, diffs = build_compare(a, b, plots=plots)
    md, page = _write(doc, folder, "compare")
    table = next(_md_table(blk) for kind, blk in doc.blocks if kind == "t")
    return md, page, diffs, table
