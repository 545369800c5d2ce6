from __future__ import annotations

import base64
import importlib
import io
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
from PIL import Image

from policywright.errors import MissingExtraError, UserError
from policywright.evals._report import write_compare, write_report


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    return importlib.import_module("pw_eval_fakes")


def test_report_has_the_paper_layout_plots_and_is_self_contained(
    fakes: ModuleType, tmp_path: Path
) -> None:
    run = fakes.make_run_folder(
        tmp_path,
        "a",
        splits=["SA-SI", "UA-UI"],
        trials=4,
        success=lambda task, split, trial: trial < (3 if split == "SA-SI" else 1),
        missing=2,
    )
    md_path, html_path, data = write_report(run)
    md = md_path.read_text()
    assert len(data.results) == 8 * 4 + 6 * 4 - 2
    assert "2 not run yet: resume with `policywright eval" in md
    # Table VI layout: the paper's four methods, then ours with its Wilson interval
    assert (
        "| task | family | CLIPort-oracle | CLIPort | NL Planner | CaP | ours (95% CI) | n |" in md
    )
    assert (
        "| pick_place | long-horizon | 88.0 | 44.0 | 98.0 | 100.0 | 75.0 [30.1, 95.4] | 4 |" in md
    )
    assert (
        "| pick_by_direction | spatial-geometric | 100.0 | 80.0 | N/A | 72.0 "
        "| 75.0 [30.1, 95.4] | 4 |" in md
    )
    assert (
        "| **Total** |  | **85.8** | **33.0** | **86.4** | **94.3** "
        "| **75.0 [57.9, 86.7]** | **32** |" in md
    )
    assert "| UA-UI | spatial-geometric | 1.3 | 0.0 | N/A | 62.0 |" in md  # Table III layout
    # failure categories and costs are tabulated
    assert (
        "| suite / split | failed | runtime_error | verification_failure | planner_refused |" in md
    )
    for name in ("success", "distributions", "failures"):
        assert f"](report/{name}.png)" in md
        assert Image.open(run / "report" / f"{name}.png").size[0] > 300
    page = html_path.read_text()
    images = re.findall(r'<img [^>]*src="([^"]+)"', page)
    assert len(images) == 3 and all(s.startswith("data:image/png;base64,") for s in images)
    Image.open(io.BytesIO(base64.b64decode(images[0].split(",", 1)[1]))).verify()
    assert not re.search(r'(src|href)="(?!data:)|<link|<script|url\(', page)
    assert "75.0 [30.1, 95.4]" in page and '<tr class="total">' in page


def test_compare_shows_both_runs_the_difference_and_its_interval(
    fakes: ModuleType, tmp_path: Path
) -> None:
    a = fakes.make_run_folder(
        tmp_path, "a", splits=["SA-SI"], trials=10, success=lambda t, s, i: i < 9
    )
    b = fakes.make_run_folder(
        tmp_path,
        "b",
        splits=["SA-SI"],
        trials=10,
        success=lambda t, s, i: i < (3 if t == "pick_place" else 9),
    )
    md_path, html_path, diffs, table = write_compare(a, b)
    assert md_path.parent == tmp_path / "compare-a-vs-b"
    pick = next(d for d in diffs if d.key.get("task_id") == "pick_place")
    assert pick.significant and pick.diff == pytest.approx(0.6)
    others = [d for d in diffs if d.key.get("task_id") not in (None, "pick_place")]
    assert len(others) == 7 and not any(d.significant for d in others)
    assert (
        "| cap-tabletop / SA-SI / pick_place | 90.0 [59.6, 98.2] | 30.0 [10.8, 60.3] | +60.0 "
        "| [+17.1, +80.9] | yes |" in table
    )
    page = html_path.read_text()
    assert page.count("data:image/png;base64,") == 1 and "significant" in page


def test_report_errors_are_clear(
    fakes: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(UserError, match="no run folder"):
        write_report(tmp_path / "nope")
    run = fakes.make_run_folder(tmp_path, "a", splits=["UA-UI"], trials=1, success=lambda *a: True)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingExtraError, match=r"policywright\[eval\]"):
        write_report(run)
    md, _, _ = write_report(run, plots=False)
    assert "![" not in md.read_text()


def test_corrections_and_recovery_sections(fakes: ModuleType, tmp_path: Path) -> None:
    import json

    run = fakes.make_run_folder(tmp_path, "c", splits=["UA-UI"], trials=2, success=lambda *a: True)
    for i, path in enumerate(sorted((run / "episodes" / "cap-tabletop").glob("*.json"))):
        r = json.loads(path.read_text())
        r |= {
            "corrections": i % 3,
            "repeat_success": i % 2 == 0,
            "recovered": True,
            "noticed": i < 6,
        }
        path.write_text(json.dumps(r))
    md = write_report(run, plots=False)[0].read_text()
    assert (
        "| cap-tabletop | UA-UI | mismatched_colors | 100.0 [34.2, 100.0] | 0.50 | 1 / 1 / 0 / 0 |"
        in md
    )
    assert "## Recovery from perturbations" in md
    assert (
        "| cap-tabletop | UA-UI | offset_from_bowl | 0.0 [0.0, 65.8] | 100.0 [34.2, 100.0] |" in md
    )
