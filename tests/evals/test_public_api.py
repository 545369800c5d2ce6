"""The library form of `policywright eval`: run_eval, write_report, write_compare."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import policywright.evals as evals


def test_public_names_resolve() -> None:
    for name in evals.__all__:
        assert getattr(evals, name) is not None, name
    assert set(evals.suite_ids()) >= {"cap-tabletop", "navigation", "corrections", "recovery"}


@pytest.mark.sim
def test_run_eval_then_resume_then_report_and_compare(tmp_path: Path) -> None:
    options = evals.RunOptions(
        suites=["cap-tabletop"], splits=["SA-SI"], tasks=["pick_place"], trials=1, seed=4
    )
    first = evals.run_eval(options, tmp_path, workers=1, run_id="a")
    assert (first.planned, first.ran, first.skipped) == (1, 1, 0)
    assert first.succeeded == 1, Path(first.run_dir).joinpath("workers.log").read_text()
    # A rerun of the same run id resumes: the finished episode is not run again.
    again = evals.run_eval(options, tmp_path, workers=1, run_id="a")
    assert (again.ran, again.skipped) == (0, 1)

    data = evals.load_run(first.run_dir)
    assert [r["success"] for r in data.results] == [True]
    md, page = evals.write_report(first.run_dir, plots=False)
    assert "pick_place" in Path(md).read_text()
    assert Path(page).read_text().startswith("<!DOCTYPE html>")

    evals.run_eval(options.model_copy(update={"seed": 5}), tmp_path, workers=1, run_id="b")
    cmd, cpage = evals.write_compare(first.run_dir, str(tmp_path / "b"), str(tmp_path / "cmp"))
    assert "pick_place" in Path(cmd).read_text()
    assert "<html" in Path(cpage).read_text()
    assert json.loads(Path(first.run_dir, "manifest.json").read_text())["run_id"] == "a"
