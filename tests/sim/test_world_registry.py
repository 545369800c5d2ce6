"""The world registry: the built-ins, did-you-mean, plugins (good and broken), check_world."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

import policywright.sim._registry as registry_module
from policywright import worlds
from policywright.errors import RegistrationError, UnknownNameError, UserError
from policywright.evals import TaskSpec
from policywright.primitives import check_primitive, primitive
from policywright.sim import (
    TabletopWorld,
    WorldCheckError,
    WorldRegistry,
    WorldSpec,
    check_world,
    default_world_registry,
    sample_scene,
)
from policywright.skills import known_families, known_worlds


def make_tray(command, *, seed, objects, scene_file, gui, config):
    """A small tabletop: two blocks and a bowl."""
    return TabletopWorld(sample_scene(seed, n_blocks=2, n_bowls=1), gui=gui)


TRAY = WorldSpec(
    id="test/tray",
    entry_point=make_tray,
    kind="tabletop",
    skills=("grasp",),
    summary="two blocks and a bowl",
)


@pytest.fixture
def default_registry_copy(monkeypatch):
    """The process's default registry, restored after the test (``register`` mutates it)."""
    reg = default_world_registry()
    monkeypatch.setattr(reg, "_specs", dict(reg._specs))
    return reg


def test_the_three_worlds_come_from_the_registry():
    from policywright.engine import WORLD_KINDS
    from policywright.primitives._check import KNOWN_WORLD_KINDS
    from policywright.skills import KNOWN_FAMILIES, KNOWN_WORLDS

    reg = default_world_registry()
    assert reg.ids()[:3] == ["tabletop", "floor", "mobile"]
    assert reg.broken == ()
    assert WORLD_KINDS == ("tabletop", "floor", "mobile")
    # The lists that used to be spelled out in four modules, now derived.
    assert {"tabletop", "floor", "mobile", "*"} == KNOWN_WORLD_KINDS
    assert KNOWN_WORLDS == known_worlds() == {"tabletop", "floor", "mobile"}
    assert known_families() == KNOWN_FAMILIES
    assert known_families() == {"grasp", "place", "path", "move", "locomotion", "drive", "fetch"}
    assert reg.get("tabletop").takes_objects and not reg.get("floor").takes_objects


def test_unknown_world_suggests_close_ids():
    with pytest.raises(UnknownNameError, match="did you mean 'tabletop'"):
        default_world_registry().get("tabletp")
    with pytest.raises(UnknownNameError, match="did you mean 'floor'"):
        worlds.make("flor")


def test_malformed_and_duplicate_worlds_are_refused():
    reg = WorldRegistry([TRAY])
    with pytest.raises(RegistrationError, match="registered twice"):
        reg.add(TRAY)
    with pytest.raises(RegistrationError, match="malformed"):
        reg.add(WorldSpec(id="Bad World", entry_point=make_tray))
    with pytest.raises(RegistrationError, match="kind"):
        reg.add(WorldSpec(id="ok", entry_point=make_tray, kind="Two Words"))
    with pytest.raises(RegistrationError, match="skill family"):
        reg.add(WorldSpec(id="ok", entry_point=make_tray, skills=("Grasp!",)))
    with pytest.raises(RegistrationError, match="not a WorldSpec"):
        reg.add("tabletop")  # type: ignore[arg-type]


def test_kind_defaults_to_the_id_and_shared_kinds_resume_through_the_id():
    assert WorldSpec(id="tray", entry_point=make_tray).kind == "tray"
    reg = WorldRegistry([*registry_module_specs(), TRAY])
    assert reg.kinds() == ["tabletop", "floor", "mobile"]  # the tray adds no kind
    assert reg.for_snapshot("tabletop") is reg.get("tabletop")
    assert WorldRegistry([TRAY]).for_snapshot("tabletop") is None  # no resume: none
    with pytest.raises(UnknownNameError):
        WorldRegistry([TRAY]).resume("tabletop", {})


def registry_module_specs():
    from policywright.sim._worlds import WORLD_SPECS

    return WORLD_SPECS


def test_objects_are_refused_by_worlds_that_take_none():
    with pytest.raises(UserError, match="describe tabletop scenes, not the floor world"):
        worlds.make("floor", "x", objects=["red block"])


@pytest.mark.sim
def test_register_and_make_a_world_by_string_entry_point(default_registry_copy):
    spec = worlds.register(
        "test/tray",
        entry_point=f"{__name__}:make_tray",
        kind="tabletop",
        summary="two blocks and a bowl",
    )
    assert worlds.spec("test/tray") is spec and "test/tray" in worlds.world_ids()
    from policywright.engine import make_world

    with make_world("test/tray", "anything", seed=2) as world:
        kinds = sorted(d.kind for d in world.detect().values())
    assert world.kind == "tabletop" and kinds == ["block", "block", "bowl"]
    # A world's kind is a kind primitives may declare once the world is registered.
    assert (
        "worlds ['tray'] must be some of" in check_primitive(tray_answer, raise_on_error=False)[0]
    )
    worlds.register("tray", entry_point=make_tray, summary="its own kind")
    assert check_primitive(tray_answer, raise_on_error=False) == []


@primitive(read_only=True, category="query", worlds=("tray",))
def tray_answer(ctx) -> int:
    """A primitive of the tray world."""
    return 1


def test_a_bad_string_entry_point_fails_when_built_with_its_name():
    spec = WorldSpec(id="ghost", entry_point="no_such_module_xyz:make", summary="x")
    with pytest.raises(RegistrationError, match="no_such_module_xyz"):
        spec.make()
    assert any("cannot import" in p for p in check_world(spec, raise_on_error=False))


def test_a_broken_plugin_is_skipped_and_named_when_used(monkeypatch):
    eps = [
        EntryPoint("bad", "no_such_module_xyz:WORLDS", registry_module.ENTRY_POINT_GROUP),
        EntryPoint(
            "dup", "policywright.sim._worlds:WORLD_SPECS", registry_module.ENTRY_POINT_GROUP
        ),
        EntryPoint("good", f"{__name__}:TRAY", registry_module.ENTRY_POINT_GROUP),
    ]
    monkeypatch.setattr(registry_module, "entry_points", lambda group: eps)
    reg = WorldRegistry.from_entry_points(builtins=registry_module_specs())
    assert reg.ids() == ["tabletop", "floor", "mobile", "test/tray"]
    assert len(reg.broken) == 1 and "'bad'" in reg.broken[0]
    assert reg.get("tabletop").id == "tabletop"  # known ids still work
    with pytest.raises(RegistrationError, match=r"may provide it is broken.*'bad'"):
        reg.get("tray2")
    with pytest.raises(RegistrationError, match="no_such_module_xyz"):
        WorldRegistry.from_entry_points(strict=True, builtins=registry_module_specs())


def test_check_world_reports_every_problem_without_building():
    bad = WorldSpec(id="Bad", entry_point=make_tray, kind="K K", summary="")
    problems = check_world(bad, raise_on_error=False)
    assert any("id 'Bad'" in p for p in problems)
    assert any("kind 'K K'" in p for p in problems)
    assert "summary is empty" in problems
    with pytest.raises(WorldCheckError, match="failed its checks"):
        check_world(bad)
    assert check_world(object(), raise_on_error=False) == ["not a WorldSpec: object"]  # type: ignore[arg-type]


def test_check_world_builds_it_and_refuses_what_is_not_a_world():
    def not_a_world(command, **_):
        return object()

    spec = WorldSpec(id="fake", entry_point=not_a_world, summary="not a world")
    (problem,) = check_world(spec, raise_on_error=False)
    assert "does not satisfy the World protocol" in problem


@pytest.mark.sim
def test_check_world_passes_the_builtins_and_a_plugin_of_a_shared_kind():
    for spec in default_world_registry():
        assert check_world(spec) == [], spec.id
    assert check_world(TRAY) == []


@pytest.mark.sim
def test_check_world_finds_a_kind_that_differs_from_the_built_world():
    spec = WorldSpec(id="tray", entry_point=make_tray, summary="kind says tray, world tabletop")
    problems = check_world(spec, raise_on_error=False)
    assert problems == ["the built world's kind 'tabletop' differs from 'tray'"]


def test_a_suite_task_names_a_registered_world():
    task = dict(id="t", family="f", template="x", checker={"name": "on_top_of"})
    assert TaskSpec.model_validate({**task, "world": "mobile"}).world == "mobile"
    with pytest.raises(ValueError, match="did you mean 'floor'"):
        TaskSpec.model_validate({**task, "world": "flor"})
