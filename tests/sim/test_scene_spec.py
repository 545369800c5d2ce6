from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from policywright.sim import (
    BOWL_RADIUS,
    COLORS,
    LOCATIONS,
    WORKSPACE,
    ObjectSpec,
    SceneSpec,
    denormalize_xy,
    nearest_corner,
    nearest_side,
    normalize_xy,
    sample_scene,
)


def test_ten_distinct_colors() -> None:
    assert len(COLORS) == 10
    values = np.array(list(COLORS.values()))
    dists = np.linalg.norm(values[:, None] - values[None, :], axis=-1)
    assert np.min(dists[np.triu_indices(10, 1)]) > 0.1


def test_unknown_color_lists_known() -> None:
    with pytest.raises(ValidationError) as info:
        ObjectSpec(name="teal block", kind="block", color="teal", position=(0.5, 0.0))
    msg = str(info.value)
    assert "teal" in msg and "blue" in msg and "gray" in msg


def test_name_must_match_color_and_kind() -> None:
    with pytest.raises(ValidationError, match="must be 'red block'"):
        ObjectSpec(name="blue block", kind="block", color="red", position=(0.5, 0.0))


def test_position_inside_workspace() -> None:
    with pytest.raises(ValidationError, match="outside the workspace"):
        ObjectSpec(name="red block", kind="block", color="red", position=(0.9, 0.0))
    with pytest.raises(ValidationError):
        ObjectSpec(name="red block", kind="block", color="red", position=(math.nan, 0.0))


def test_unique_names_and_extra_forbidden() -> None:
    obj = ObjectSpec(name="red block", kind="block", color="red", position=(0.5, 0.0))
    with pytest.raises(ValidationError, match="duplicate"):
        SceneSpec(objects=[obj, obj])
    with pytest.raises(ValidationError):
        SceneSpec.model_validate({"objects": [], "gravity": 1})


def test_yaml_round_trip(tmp_path: Path) -> None:
    spec = sample_scene(7)
    path = tmp_path / "scene.yaml"
    spec.to_yaml(path)
    assert SceneSpec.from_yaml(path) == spec
    assert "red" in path.read_text() or "block" in path.read_text()


def test_sample_scene_deterministic() -> None:
    assert sample_scene(3) == sample_scene(3)
    assert sample_scene(3) != sample_scene(4)


@pytest.mark.parametrize("seed", range(30))
def test_sample_scene_required_and_clearance(seed: int) -> None:
    spec = sample_scene(seed, required=["red block", "blue bowl", "green block"])
    names = spec.names
    assert {"red block", "blue bowl", "green block"} <= set(names)
    blocks = [o for o in spec.objects if o.kind == "block"]
    bowls = [o for o in spec.objects if o.kind == "bowl"]
    assert len(blocks) == 3 and len(bowls) == 3
    assert len({b.color for b in blocks} & {b.color for b in bowls}) >= 2
    locs = np.array(list(LOCATIONS.values()))
    x0, y0, x1, y1 = WORKSPACE
    for i, a in enumerate(spec.objects):
        pa = np.array(a.position)
        assert x0 <= pa[0] <= x1 and y0 <= pa[1] <= y1
        assert np.min(np.linalg.norm(locs - pa, axis=1)) >= 0.08
        for b in spec.objects[i + 1 :]:
            d = float(np.linalg.norm(pa - np.array(b.position)))
            if "bowl" in (a.kind, b.kind):
                assert d >= BOWL_RADIUS + 0.05
            else:
                assert d >= 0.06


def test_sample_scene_more_required_than_counts() -> None:
    required = ["red block", "blue block", "green block", "pink block"]
    spec = sample_scene(1, required=required, n_blocks=2, n_bowls=1)
    assert sum(o.kind == "block" for o in spec.objects) == 4


def test_sample_scene_errors() -> None:
    with pytest.raises(ValueError, match="known colours"):
        sample_scene(0, required=["teal block"])
    with pytest.raises(ValueError, match="cannot fit"):
        sample_scene(0, n_blocks=10, n_bowls=10)


def test_normalized_coordinates() -> None:
    assert np.allclose(denormalize_xy([0, 0]), LOCATIONS["bottom left corner"])
    assert np.allclose(denormalize_xy([1, 1]), LOCATIONS["top right corner"])
    assert np.allclose(denormalize_xy([0.5, 0.5]), LOCATIONS["middle"])
    for xy in [(0.4, 0.1), (0.66, -0.2)]:
        assert np.allclose(denormalize_xy(normalize_xy(xy)), xy)
    assert nearest_corner((0.68, 0.25)) == "top left corner"
    assert nearest_corner((0.36, -0.2)) == "bottom right corner"
    assert nearest_side((0.52, -0.25)) == "right side"
    assert nearest_side((0.69, 0.02)) == "top side"
    with pytest.raises(ValueError):
        normalize_xy([math.inf, 0.0])
