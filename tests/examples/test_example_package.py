"""The example plugin package, installed for real (no index, no network) and used end to end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = [pytest.mark.sim, pytest.mark.slow]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "policywright-example-ext"

# Runs in a fresh interpreter whose sys.path holds the installed plugin, so entry point
# discovery sees it exactly as after `pip install`.
SCRIPT = textwrap.dedent(
    """
    import json, sys
    from dataclasses import dataclass, field

    from policywright.agent.planner import Program
    from policywright.config import EngineConfig
    from policywright.engine import Engine
    from policywright.primitives import Registry, check_primitive
    from policywright.sim import TabletopWorld, sample_scene
    from policywright.skills import SkillRegistry, check_skill

    import policywright_example_ext
    out = {"module": policywright_example_ext.__file__}
    prims = Registry.from_entry_points()
    out["has_primitive"] = "stack_blocks" in prims
    out["primitive_problems"] = check_primitive(prims.get("stack_blocks"), raise_on_error=False)
    skills = SkillRegistry.from_entry_points()
    out["broken"] = [b.describe() for b in skills.broken]
    out["grasp_variants"] = [i.id for i in skills.by_family("grasp")]
    out["skill_problems"] = check_skill(skills.get("grasp/cautious-v1"), raise_on_error=False)
    from policywright.engine import WORLD_KINDS, make_world
    from policywright.worlds import check_world, default_world_registry

    worlds = default_world_registry()
    out["worlds"] = list(WORLD_KINDS)
    out["world_broken"] = list(worlds.broken)
    out["world_problems"] = check_world(worlds.get("example/tray"), raise_on_error=False)
    with make_world("example/tray", "put the blocks in the bowl", seed=1) as tray:
        out["tray_kind"] = tray.kind
        out["tray_objects"] = sorted(d.kind for d in tray.detect().values())


    @dataclass
    class ScriptedPlanner:
        programs: list
        name: str = "scripted"
        seen: list = field(default_factory=list)

        def write(self, ctx):
            self.seen.append(ctx)
            return self.programs[min(len(self.seen) - 1, len(self.programs) - 1)]


    code = 'n = stack_blocks(["red block", "green block"], "middle")\\nsay(f"stacked {n}")\\n'
    check = (
        'verdict(is_on("red block", "middle") and is_on("green block", "red block"), '
        '"green on red on the middle")\\n'
    )
    program = Program(code=code, check_code=check, provenance="scripted")
    spec = sample_scene(3, required=["red block", "green block"], n_blocks=3, n_bowls=2)
    cfg = EngineConfig(
        state_dir=sys.argv[1], max_attempts=1, skills={"grasp": "grasp/cautious-v1"}
    )
    with TabletopWorld(spec) as world:
        eng = Engine(world, cfg, planner=ScriptedPlanner([program]))
        out["listed"] = "stack_blocks(blocks: list[str], base: str | [x, y]) -> int" in (
            eng.registry.listing()
        )
        result = eng.run("stack the green block on the red block in the middle", thread_id="ext")
        out["status"] = result.status
        out["reason"] = result.reason
        out["sim_time"] = world.sim_time
        poses = world.true_poses()
        red, green = poses["red block"].position, poses["green block"].position
        out["dz_mm"] = 1000 * (green[2] - red[2])
        out["dxy_mm"] = 1000 * ((green[0] - red[0]) ** 2 + (green[1] - red[1]) ** 2) ** 0.5
        eng.close()
    print("RESULT " + json.dumps(out))
    """
)


def test_example_package_installs_registers_and_runs(tmp_path):
    target = tmp_path / "site"
    # Build from a copy: setuptools writes build/ and *.egg-info next to the sources.
    source = tmp_path / "src"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    pip = subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--no-index", "--no-deps",
            "--no-build-isolation", "--disable-pip-version-check", "--quiet",
            "--target", str(target), str(source),
        ],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert pip.returncode == 0, pip.stderr
    assert list(target.glob("policywright_example_ext-*.dist-info/entry_points.txt"))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(target), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "state")],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )  # fmt: skip
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT ") :])
    assert out["module"].startswith(str(target))  # the installed copy, not the source tree
    assert out["has_primitive"] and out["primitive_problems"] == []
    assert out["broken"] == []
    assert out["grasp_variants"][:1] == ["grasp/scripted-v1"]
    assert "grasp/cautious-v1" in out["grasp_variants"]
    assert out["skill_problems"] == []
    assert out["worlds"] == ["tabletop", "floor", "mobile", "example/tray"]
    assert out["world_broken"] == [] and out["world_problems"] == []
    assert out["tray_kind"] == "tabletop"
    assert out["tray_objects"] == ["block", "block", "bowl"]
    assert out["listed"]
    assert out["status"] == "succeeded", out["reason"]
    assert abs(out["dz_mm"] - 40) < 8 and out["dxy_mm"] < 20  # one block height, on top
    assert 5 < out["sim_time"] < 60
