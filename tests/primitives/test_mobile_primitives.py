from __future__ import annotations

from collections.abc import Iterator

import pytest

from policywright.agent.host import RegistryHost
from policywright.agent.sandbox import Sandbox, SandboxLimits
from policywright.errors import PrimitiveError
from policywright.primitives import PrimitiveContext, Registry
from policywright.primitives.builtin import TABLETOP_PRIMITIVES
from policywright.primitives.mobile import MOBILE_PRIMITIVES, get_base_pose
from policywright.sim._mobile import TABLE_TOP_Z, MobileWorld, sample_mobile


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(SandboxLimits(wall_seconds=60.0, cpu_seconds=30)) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def world() -> Iterator[MobileWorld]:
    with MobileWorld(sample_mobile(0)) as w:
        yield w


def _host(world: MobileWorld) -> RegistryHost:
    return RegistryHost(Registry(MOBILE_PRIMITIVES), PrimitiveContext(world=world))


def test_registry_names_worlds_and_listing() -> None:
    reg = Registry(MOBILE_PRIMITIVES)
    assert all(spec.worlds == ("mobile",) for spec in reg)
    assert len(reg.for_world("mobile")) == len(MOBILE_PRIMITIVES)
    assert len(reg.for_world("tabletop")) == 0
    # No name clashes with the tabletop API: both fit in one registry.
    both = Registry([*TABLETOP_PRIMITIVES, *MOBILE_PRIMITIVES])
    assert len(both) == len(TABLETOP_PRIMITIVES) + len(MOBILE_PRIMITIVES)
    listing = reg.listing()
    for text in ("drive_to_place(place: str) -> str", "pick_up(name: str) -> None", "blocked"):
        assert text in listing
    assert set(reg.names(read_only=True)) == {
        "get_object_names",
        "get_object_position",
        "get_place_names",
        "get_base_pose",
        "get_carried_object",
        "is_object_on",
    }


def test_needs_the_mobile_world() -> None:
    class Other:
        kind = "tabletop"

    ctx = PrimitiveContext(world=Other())  # type: ignore[arg-type]
    with pytest.raises(PrimitiveError, match="mobile world"):
        get_base_pose.func(ctx)


@pytest.mark.sim
def test_bring_me_the_red_block_end_to_end(sb: Sandbox, world: MobileWorld) -> None:
    world.reset(sample_mobile(0))
    code = (
        "print(sorted(get_object_names()))\n"
        'print(drive_to_place("table"))\n'
        'pick_up("red block")\n'
        "print(get_carried_object())\n"
        'print(drive_to_place("user"))\n'
        'put_down_on("user")\n'
        'print(is_object_on("red block", "user"))\n'
        "p = get_base_pose()\n"
        "print(round(float(p[0]), 1))\n"
    )
    report = sb.run(code, _host(world))
    assert report.status == "ok", report
    lines = report.output.splitlines()
    assert lines[0] == "['orange block', 'red block', 'yellow block']"
    assert lines[1] == "ok" and lines[2] == "red block" and lines[3] == "ok"
    assert lines[4] == "True"
    # Ground truth: the red block rests on the user's table top.
    x0, y0, x1, y1 = world.table_rect("user table")
    x, y, z = world.true_poses()["red block"].position
    assert x0 < x < x1 and y0 < y < y1
    assert z == pytest.approx(TABLE_TOP_Z + 0.02, abs=0.005)
    assert world.arm.held_object() is None
    assert 25.0 < world.sim_time < 45.0


@pytest.mark.sim
def test_safety_refusals_through_the_sandbox(sb: Sandbox, world: MobileWorld) -> None:
    world.reset(sample_mobile(0))
    before = world.base_pose()
    report = sb.run("drive_to(10.0, 0.0)\n", _host(world))
    assert report.status == "refused" and "arena" in report.message
    report = sb.run("drive_to(float('nan'), 0.0)\n", _host(world))
    assert report.status == "refused" and "non-finite" in report.message
    assert world.base_pose() == pytest.approx(before, abs=1e-6)
    # Out of reach is the program's problem (an exception it can catch), not a refusal.
    report = sb.run(
        'try:\n    pick_up("red block")\nexcept Exception as e:\n    print("caught", e)\n',
        _host(world),
    )
    assert report.status == "ok"
    assert "out of the arm's reach" in report.output
    report = sb.run('print(drive_to_place("kitchen"))\n', _host(world))
    assert report.status == "error" and "unknown place" in report.message
