"""SkillRegistry: versioned ids, families, did-you-mean, entry points and broken plugins."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from policywright.errors import RegistrationError, UnknownNameError
from policywright.skills import (
    SKILLS,
    PickSkill,
    SkillInfo,
    SkillRegistry,
    default_skill_registry,
    get_skill,
)
from policywright.skills._builtin_infos import SKILL_INFOS

BUILTIN_IDS = {"grasp/scripted-v1", "place/scripted-v1", "path/scripted-v1", "move/scripted-v1"}


def _info(skill_id: str = "grasp/test-v1", **kw) -> SkillInfo:
    kw.setdefault("family", skill_id.split("/")[0])
    return SkillInfo(id=skill_id, summary="a test skill", world="tabletop", factory=PickSkill, **kw)


def test_builtins_and_views():
    reg = SkillRegistry.from_entry_points()
    assert set(reg.ids()) >= BUILTIN_IDS
    assert set(SKILLS) == BUILTIN_IDS
    assert isinstance(reg.create("grasp/scripted-v1"), PickSkill)
    assert reg.create("grasp/scripted-v1") is not reg.create("grasp/scripted-v1")
    assert {"grasp", "place", "path", "move"} <= set(reg.families())
    assert reg.by_family("grasp")[0].id == "grasp/scripted-v1"  # scripted first
    assert isinstance(get_skill("grasp/scripted-v1"), PickSkill)
    assert default_skill_registry() is default_skill_registry()


def test_unknown_id_and_family_suggest():
    reg = SkillRegistry(SKILL_INFOS)
    with pytest.raises(UnknownNameError, match="did you mean 'grasp/scripted-v1'"):
        reg.get("grasp/scripted-v2")
    with pytest.raises(UnknownNameError, match="did you mean 'grasp'"):
        reg.by_family("grap")


@pytest.mark.parametrize(
    "bad",
    ["grasp", "Grasp/scripted-v1", "grasp/scripted", "grasp/scripted-v", "grasp/x-v1.2", "1/a-v1"],
)
def test_malformed_ids(bad):
    with pytest.raises(RegistrationError, match="malformed"):
        SkillRegistry([_info(bad, family="grasp")])


def test_family_must_be_the_prefix_and_duplicates_refused():
    with pytest.raises(RegistrationError, match="must equal the id's prefix"):
        SkillRegistry([_info("grasp/test-v1", family="path")])
    reg = SkillRegistry([_info()])
    with pytest.raises(RegistrationError, match="registered twice"):
        reg.add(_info())
    with pytest.raises(RegistrationError, match="not a SkillInfo"):
        reg.add("grasp/test-v1")  # type: ignore[arg-type]


def _plugin(root: Path, dist: str, entries: dict[str, str], modules: dict[str, str]) -> None:
    """A real installed distribution (dist-info with entry points) on a sys.path folder."""
    info = root / f"{dist}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    lines = "\n".join(f"{k} = {v}" for k, v in entries.items())
    (info / "entry_points.txt").write_text(f"[policywright.skills]\n{lines}\n")
    for name, src in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(src))


GOOD_MOD = """
from policywright.skills import PickSkill, SkillInfo

class Careful(PickSkill):
    id = "grasp/careful-v1"

SKILL_INFOS = [SkillInfo(id="grasp/careful-v1", family="grasp", summary="careful grasp",
                         world="tabletop", factory=Careful)]
CLASH = SkillInfo(id="grasp/scripted-v1", family="grasp", summary="clash", world="tabletop",
                  factory=Careful)
"""


def test_entry_points_good_broken_and_clashing(tmp_path, monkeypatch, caplog):
    _plugin(
        tmp_path,
        "pw_test_plugin",
        {
            "good": "pw_test_good:SKILL_INFOS",
            "broken": "pw_test_broken:SKILL_INFOS",
            "clash": "pw_test_good:CLASH",
            "garbage": "pw_test_good:Careful",
        },
        {"pw_test_good": GOOD_MOD, "pw_test_broken": "import not_a_real_module_xyz\n"},
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = SkillRegistry.from_entry_points()  # does not crash: the broken ones are skipped
    assert "grasp/careful-v1" in reg
    assert reg.get("grasp/careful-v1").summary == "careful grasp"
    by_name = {b.name: b for b in reg.broken}
    assert set(by_name) == {"broken", "clash", "garbage"}
    assert by_name["broken"].package == "pw_test_plugin"
    assert "ModuleNotFoundError" in by_name["broken"].error
    assert "skipping a broken skill plugin" in caplog.text
    # Listing works; direct use of an affected id explains which plugin is broken.
    with pytest.raises(RegistrationError, match="ambiguous: entry point 'clash'"):
        reg.get("grasp/scripted-v1")
    with pytest.raises(
        RegistrationError, match="entry point 'broken' = 'pw_test_broken:SKILL_INFOS' of package"
    ):
        reg.get("grasp/missing-v1")
    assert reg.get("path/scripted-v1").id == "path/scripted-v1"  # unrelated ids still work
    with pytest.raises(RegistrationError, match=r"'broken'.*pw_test_plugin"):
        SkillRegistry.from_entry_points(strict=True)


# --- the `policywright skills` command line ---------------------------------------------

CLI_MOD = """
from policywright.skills import PickSkill, SkillInfo, evaluate_grasp

class Careful(PickSkill):
    id = "grasp/careful-v1"

_train_err = ModuleNotFoundError("No module named 'torch'", name="torch")

def _train_missing_torch(out_dir, seed):
    raise _train_err

SKILL_INFOS = [
    SkillInfo(id="grasp/careful-v1", family="grasp", summary="careful grasp", world="tabletop",
              factory=Careful, evaluate=lambda n, s: evaluate_grasp(Careful.id, n, s)),
    SkillInfo(id="grasp/tiny-v1", family="grasp", summary="learned", world="tabletop",
              factory=Careful, learned=True, train=_train_missing_torch,
              weights=("/nonexistent/tiny.npz",)),
]
"""


def run_cli(monkeypatch, capsys, *args):
    import sys

    from policywright.cli import main

    monkeypatch.setattr(sys, "argv", ["policywright", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    out, err = capsys.readouterr()
    return exc.value.code, out, err


@pytest.fixture
def cli_plugin(tmp_path, monkeypatch):
    _plugin(tmp_path, "pw_cli_plugin", {"cli": "pw_cli_mod:SKILL_INFOS"}, {"pw_cli_mod": CLI_MOD})
    monkeypatch.syspath_prepend(str(tmp_path))


def test_cli_list_and_user_errors(monkeypatch, capsys, cli_plugin):
    import json

    code, out, _ = run_cli(monkeypatch, capsys, "skills", "list", "--json")
    assert code == 0
    rows = {r["id"]: r for r in json.loads(out)["skills"]}
    assert BUILTIN_IDS | {"grasp/careful-v1", "grasp/tiny-v1"} <= set(rows)
    assert rows["grasp/tiny-v1"]["kind"] == "learned"
    assert rows["grasp/tiny-v1"]["weights"]["present"] is False
    code, out, _ = run_cli(monkeypatch, capsys, "skills", "list")
    assert code == 0 and "grasp/scripted-v1" in out and "missing" in out
    code, _, err = run_cli(monkeypatch, capsys, "skills", "eval", "grasp/scripted-v2")
    assert code == 2 and "did you mean 'grasp/scripted-v1'" in err
    code, _, err = run_cli(monkeypatch, capsys, "skills", "eval", "wiggle")
    assert code == 2 and "unknown skill family 'wiggle'" in err
    code, _, err = run_cli(monkeypatch, capsys, "skills", "train", "grasp/scripted-v1")
    assert code == 2 and "scripted skill: there is nothing to train" in " ".join(err.split())
    code, _, err = run_cli(monkeypatch, capsys, "skills", "eval", "move/scripted-v1")
    assert code == 2 and "has no evaluation" in err


def test_cli_train_without_the_extra(monkeypatch, capsys, cli_plugin, tmp_path):
    code, _, err = run_cli(
        monkeypatch, capsys, "skills", "train", "grasp/tiny-v1", "--out", str(tmp_path / "w")
    )
    # (cli.main prints with rich markup, which currently swallows "[train]"; see the report)
    assert code == 2 and "needs the optional dependency 'torch'" in " ".join(err.split())


@pytest.mark.sim
def test_cli_eval_compares_the_family(monkeypatch, capsys, cli_plugin):
    import json

    code, out, _ = run_cli(
        monkeypatch, capsys, "skills", "eval", "grasp/careful-v1", "--trials", "2", "--json"
    )
    assert code == 0
    results = json.loads(out)["results"]
    ids = [r["skill_id"] for r in results]
    assert ids[0] == "grasp/careful-v1" and set(ids[1:]) == {
        "grasp/scripted-v1",
        "grasp/learned-v1",
    }
    by_id = {r["skill_id"]: r for r in results}
    for r in results:
        assert r["trials"] == by_id["grasp/scripted-v1"]["trials"] > 0  # the same trials
        assert 0 < r["precision"] < 30 and 3 < r["sim_time_s"] < 10
    careful, scripted = by_id["grasp/careful-v1"], by_id["grasp/scripted-v1"]
    assert careful["precision"] == scripted["precision"]  # same controller, same seeds
    assert careful["successes"] == scripted["successes"]
    code, out, _ = run_cli(
        monkeypatch, capsys, "skills", "eval", "grasp/careful-v1", "--trials", "1", "--no-compare"
    )
    assert code == 0 and "grasp/careful-v1" in out and "grasp/scripted-v1" not in out
