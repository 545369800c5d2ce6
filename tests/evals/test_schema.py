"""The suite schema and loader: shipped suites load; bad files name file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from policywright.errors import ConfigError, UnknownNameError
from policywright.evals._schema import load_suite, parse_suite, suite_ids

GOOD = """\
id: mini
splits: [default]
split_settings:
  default:
    tasks: [one]
attributes:
  block:
    default: [red block, blue block]
tasks:
  - id: one
    family: long-horizon
    template: pick up the {block1}
    slots:
      block1: {attribute: block}
    checker: {name: stack}
"""


def test_shipped_suites_load() -> None:
    assert {"cap-tabletop", "navigation", "recovery", "corrections"} <= set(suite_ids())
    for sid in suite_ids():
        suite = load_suite(sid)
        assert suite.id == sid
        for split in suite.splits:
            assert suite.tasks_for(split)
        assert all(t.suite == sid for t in suite.tasks)


def test_cap_tabletop_is_the_paper_protocol() -> None:
    suite = load_suite("cap-tabletop")
    assert suite.splits == ["SA-SI", "UA-SI", "UA-UI"]
    assert len(suite.tasks) == 14
    assert [len(suite.tasks_for(s)) for s in suite.splits] == [8, 8, 6]
    assert suite.trials == 50
    assert suite.split("UA-SI").tasks == suite.split("SA-SI").tasks
    assert set(suite.split("UA-UI").tasks).isdisjoint(suite.split("SA-SI").tasks)
    # Unseen instructions get no example of themselves in the planner's memory.
    assert "line" in suite.split("UA-UI").memory_exclude_families
    assert suite.split("SA-SI").memory_exclude_families == []
    ref = suite.reference
    assert ref is not None and ref.methods == ["CLIPort-oracle", "CLIPort", "NL Planner", "CaP"]
    # Family means recomputed from the per-task cells match the paper's totals.
    for split, cells in ref.cells.items():
        for family in ("long-horizon", "spatial-geometric"):
            vals = [cells[t.id][3] for t in suite.tasks_for(split) if t.family == family]
            mean = sum(v for v in vals if v is not None) / len(vals)
            assert mean == pytest.approx(ref.totals[split][family][3], abs=0.05)
    sa = suite.task("pick_by_direction")
    assert suite.slot_values(sa, "direction", "seen") == ["top", "left"]
    assert suite.slot_values(sa, "direction", "unseen") == ["bottom", "right"]


def test_unknown_ids_suggest_close_matches() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'cap-tabletop'"):
        load_suite("cap-tabeltop")
    suite = load_suite("cap-tabletop")
    with pytest.raises(UnknownNameError, match="did you mean 'stack_all'"):
        suite.task("stack_al")
    with pytest.raises(UnknownNameError, match="'UA-UI'"):
        suite.split("UA-U1")


def test_a_file_path_loads(tmp_path: Path) -> None:
    path = tmp_path / "mini.yaml"
    path.write_text(GOOD, encoding="utf-8")
    suite = load_suite(str(path))
    assert suite.task("one").suite == "mini"
    assert suite.source == str(path)


@pytest.mark.parametrize(
    ("old", "new", "line", "field"),
    [
        ("    checker: {name: stack}", "    checker: {name: stak}", 15, "tasks[0].checker.name"),
        (
            "    family: long-horizon",
            "    family: long-horizon\n    colour: red",
            12,
            "tasks[0].colour",
        ),
        (
            "      block1: {attribute: block}",
            "      block1: {attribute: blocks}",
            14,
            "tasks[0].slots.block1.attribute",
        ),
        ("    tasks: [one]", "    tasks: [one, two]", 5, "split_settings.default.tasks[1]"),
        ("pick up the {block1}", "pick up the {block1} on the {bowl1}", 12, "tasks[0].template"),
        (
            "  - id: one",
            "  - id: one\n    limits: {max_attempts: 0}",
            11,
            "tasks[0].limits.max_attempts",
        ),
    ],
)
def test_malformed_files_name_file_line_and_field(
    tmp_path: Path, old: str, new: str, line: int, field: str
) -> None:
    assert old in GOOD
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.replace(old, new), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_suite(str(path))
    msg = str(err.value)
    assert str(path) in msg
    assert f"line {line}," in msg
    assert f"field {field}:" in msg


def test_unknown_checker_suggests_the_right_one() -> None:
    with pytest.raises(ConfigError, match="did you mean 'stack'"):
        parse_suite(GOOD.replace("{name: stack}", "{name: stak}"), "x.yaml")


def test_not_yaml_names_the_line() -> None:
    with pytest.raises(ConfigError, match=r"x\.yaml, line 3: not valid YAML"):
        parse_suite("id: a\nsplits: [b\ntasks: ]: :\n", "x.yaml")


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_suite(str(tmp_path / "nope.yaml"))


def test_the_documented_task_file_loads(tmp_path: Path) -> None:
    import re

    doc = (Path(__file__).resolve().parents[2] / "docs" / "evals.md").read_text()
    block = re.search(r"```yaml\n(.*?)```", doc, re.S)
    assert block is not None
    path = tmp_path / "my_suite.yaml"
    path.write_text(block.group(1))
    suite = load_suite(str(path))
    assert [t.id for t in suite.tasks] == ["block_in_bowl"]
    assert suite.tasks[0].corrections is not None
