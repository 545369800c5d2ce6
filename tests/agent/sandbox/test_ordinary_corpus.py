"""False refusals: a corpus of ordinary policy programs must pass the static rules and run.

Each program is the kind a planner writes (loops, comprehensions, unpacking with ``_``,
numpy reductions and statistics, shapely geometry, helper functions, string formatting,
``print(..., flush=True)``). The goal is 0 refusals (BENCHMARKS.md, "Sandbox isolation").
"""

from __future__ import annotations

import pytest

from policywright.agent.sandbox import check_program

NAMES = frozenset(
    {
        "get_obj_names", "get_obj_pos", "get_obj_pos3d", "put_first_on_second", "say", "is_on",
        "get_location_pos", "get_location_names", "follow_path", "get_bbox", "verdict",
    }
)  # fmt: skip

CORPUS = {
    "loop-underscore": "for _ in range(3):\n    say('hi')\n",
    "unpack-underscore": "pairs = [(1, 'a'), (2, 'b')]\nnums = [n for n, _ in pairs]\n",
    "sort-by-x": (
        "blocks = [n for n in get_obj_names() if n.endswith('block')]\n"
        "blocks.sort(key=lambda n: get_obj_pos(n)[0])\n"
        "for a, b in zip(blocks, blocks[1:]):\n    put_first_on_second(b, a)\n"
    ),
    "median": "xs = [get_obj_pos(n)[0] for n in get_obj_names()]\nm = float(np.median(xs))\n",
    "percentile": "q = np.percentile(np.array([1.0, 2.0, 3.0]), 90)\n",
    "quantile-unique": "u = np.unique([1, 1, 2])\nq = np.quantile([1.0, 2.0], 0.5)\n",
    "array-methods": (
        "a = np.array([[1.0, 2.0], [3.0, 4.0]])\n"
        "b = a.reshape(4).copy()\nc = a.T.mean(axis=0)\nd = a.astype(float).tolist()\n"
        "e = a.shape[0] + a.ndim + int(a.argmax())\n"
    ),
    "linalg": "d = float(np.linalg.norm(np.array([3.0, 4.0])))\n",
    "shapely": (
        "p = shapely.Polygon([(0, 0), (1, 0), (1, 1)])\nc = p.centroid\n"
        "inside = p.contains(shapely.Point(0.5, 0.2))\n"
    ),
    "helper-def": (
        "def centre(names):\n"
        "    pts = np.array([get_obj_pos(n) for n in names])\n"
        "    return pts.mean(axis=0)\n\n"
        "c = centre(get_obj_names())\n"
        "put_first_on_second('red block', [float(c[0]), float(c[1])])\n"
    ),
    "f-string-print": "n = len(get_obj_names())\nprint(f'{n} objects', flush=True)\n",
    "dict-comprehension": "pos = {n: get_obj_pos(n) for n in get_obj_names()}\n",
    "while-break": "i = 0\nwhile True:\n    i += 1\n    if i > 3:\n        break\n",
    "try-except": (
        "try:\n    put_first_on_second('red block', 'blue bowl')\n"
        "except PrimitiveError as e:\n    say(str(e))\n"
    ),
    "math": "a = math.atan2(1.0, 2.0)\nb = math.hypot(3.0, 4.0)\nc = round(math.degrees(a), 1)\n",
    "circle-path": (
        "cx, cy = get_obj_pos('blue bowl')\n"
        "pts = [[float(cx + 0.1 * math.cos(t)), float(cy + 0.1 * math.sin(t))]"
        " for t in np.linspace(0, 2 * math.pi, 12)]\nfollow_path(pts)\n"
    ),
    "enumerate-locations": (
        "for i, loc in enumerate(get_location_names()[:2]):\n    say(str(i) + ' ' + loc)\n"
    ),
    "min-by-distance": (
        "target = get_obj_pos('blue bowl')\n"
        "best = min(\n    get_obj_names(),\n"
        "    key=lambda n: float(np.linalg.norm(get_obj_pos(n) - target)),\n)\n"
    ),
    "check-program": (
        "ok = is_on('red block', 'blue bowl')\n"
        "verdict(ok, 'red block ' + ('is' if ok else 'is not') + ' in the blue bowl')\n"
    ),
    "bbox": "x0, y0, z0, x1, y1, z1 = get_bbox('red block')\nh = z1 - z0\n",
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_ordinary_program_is_not_refused(name: str) -> None:
    report = check_program(CORPUS[name], primitive_names=NAMES)
    assert report.ok, [v.model_dump() for v in report.violations]


#: The corpus programs that need no primitive: run in a real isolated child, they must end ok.
PURE = [
    "loop-underscore-pure",
    "unpack-underscore",
    "percentile",
    "quantile-unique",
    "array-methods",
    "linalg",
    "shapely",
    "while-break",
    "math",
]
CORPUS["loop-underscore-pure"] = "total = 0\nfor _ in range(3):\n    total += 1\n"


@pytest.mark.parametrize("name", PURE)
def test_ordinary_program_runs_in_the_sandbox(name: str, sb, host) -> None:  # type: ignore[no-untyped-def]
    report = sb.run(CORPUS[name] + "print('ok', flush=True)\n", host)
    assert report.status == "ok", (report.status, report.message)
    assert "ok" in report.output
