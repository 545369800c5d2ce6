"""Evaluation tasks are data: the pydantic task schema and the YAML suite loader.

A suite file (``evals/suites/<id>.yaml``) holds the suite's attribute tables, its splits (which
tasks run in which split, with which attribute set and which engine settings) and its tasks.
Each task names its command template and slots, the scene sampler's settings, the ground-truth
checker, optional scripted corrections and perturbations, and its limits.

A malformed file raises :class:`~policywright.errors.ConfigError` naming the file, the line and
the field: pydantic's error location is mapped onto the YAML node tree (``yaml.compose`` keeps
each node's line).
"""

from __future__ import annotations

import difflib
import re
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from policywright.errors import ConfigError, UnknownNameError
from policywright.sim import default_world_registry

__all__ = [
    "CheckerSpec",
    "CorrectionRule",
    "CorrectionScript",
    "HiddenGoal",
    "Limits",
    "PerturbationSpec",
    "ReferenceTable",
    "SceneSampler",
    "SlotSpec",
    "SplitSettings",
    "Suite",
    "TaskSpec",
    "load_suite",
    "suite_ids",
]

_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_SLOT_RE = re.compile(r"\{([a-z_][a-z0-9_]*)\}")

#: Scene constraints the sampler knows (see ``policywright.evals._sampling``).
CONSTRAINTS = (
    "matching_pair",
    "mismatch_possible",
    "unique_block_in_direction",
    "unique_block_by_distance",
    "nth_block_separated",
    "offset_target_free",
    "unique_corner_by_distance",
    "midpoint_clear",
    "paths_clear",
)

#: Ground-truth checkers (see ``policywright.evals._checkers``).
CHECKERS = (
    "on_top_of",
    "all_blocks_on",
    "stack",
    "matching_colors",
    "mismatched_colors",
    "selected_block_on",
    "different_corners",
    "offset_from_bowl",
    "corner_by_distance",
    "line",
    "near_landmark",
    "visited_in_order",
    "between_landmarks",
    "return_to_start",
    "hidden_goal",
)

#: Perturbations the recovery suite injects (see ``policywright.evals._perturb``).
PERTURBATIONS = ("move_object", "slip", "knock_over")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SlotSpec(_Model):
    """Where one command slot's values come from.

    Exactly one source: ``attribute`` (a suite attribute table, or several whose values are
    pooled, e.g. ``[block, bowl]``), inline ``values`` per attribute set, or ``from_scene`` (a
    name of the sampled scene's objects of that kind, e.g. a landmark of the floor world).

    Attributes:
        attribute: Attribute table name(s) of the suite.
        values: Attribute set ("seen", "unseen", "default") -> values.
        from_scene: Object kind in the sampled scene ("landmark").
        distinct_from: Slots this one must differ from.
    """

    attribute: str | list[str] | None = None
    values: dict[str, list[str]] = Field(default_factory=dict)
    from_scene: Literal["landmark", "block", "bowl"] | None = None
    distinct_from: list[str] = Field(default_factory=list)

    def attributes(self) -> list[str]:
        """The attribute table names (empty when the slot has another source)."""
        if self.attribute is None:
            return []
        return [self.attribute] if isinstance(self.attribute, str) else list(self.attribute)


class SceneSampler(_Model):
    """Scene sampler settings.

    Attributes:
        blocks: Inclusive range of the number of blocks (tabletop).
        bowls: Inclusive range of the number of bowls (tabletop).
        landmarks: Inclusive range of the number of landmarks (floor).
        constraints: Feasibility rules a sampled scene must meet (resampled until it does).
    """

    blocks: tuple[int, int] = (2, 4)
    bowls: tuple[int, int] = (2, 4)
    landmarks: tuple[int, int] = (3, 4)
    constraints: list[str] = Field(default_factory=list)

    @field_validator("blocks", "bowls", "landmarks")
    @classmethod
    def _range(cls, value: tuple[int, int]) -> tuple[int, int]:
        lo, hi = value
        if not 0 <= lo <= hi <= 10:
            raise ValueError(f"a count range must satisfy 0 <= min <= max <= 10, got {list(value)}")
        return value

    @field_validator("constraints")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        for name in value:
            if name not in CONSTRAINTS:
                raise ValueError(_unknown("scene constraint", name, CONSTRAINTS))
        return value


class CheckerSpec(_Model):
    """The ground-truth success checker and its parameters (slot names, tolerances)."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in CHECKERS:
            raise ValueError(_unknown("checker", value, CHECKERS))
        return value


class HiddenGoal(_Model):
    """What the simulated person really wants (the command says something close to it).

    Attributes:
        object: The object to move, e.g. "red block" or "{block1}" (a slot of the task).
        target: A named location or object ("middle", "green bowl", "{bowl2}").
        offset: Added to the target's xy (m), e.g. (0, 0.03) = 3 cm to the left.
        tolerance_m: The person accepts the object within this xy distance of the goal.
    """

    object: str
    target: str
    offset: tuple[float, float] = (0.0, 0.0)
    tolerance_m: float = Field(default=0.015, gt=0.0, le=0.2)


class CorrectionRule(_Model):
    """When the person sees a deviation of this kind, they say this.

    ``say`` may use ``{object}``, ``{target}`` and ``{direction}`` (the way to move, from the
    error vector: "left", "right", "top", "bottom"; "further" / "closer" are not used).
    """

    when: Literal["wrong_target", "off_target", "dropped"]
    say: str


class CorrectionScript(_Model):
    """A simulated person: hidden goal, what they say per deviation, and patience.

    Attributes:
        goal: Where the person really wants the object.
        rules: What they say for each kind of deviation.
        max_corrections: How many corrections they make at most.
        repeat: Also run the command again on a fresh copy of the scene (does it need none?).
        live: Speak while the robot works, through the engine's live correction channel, as
            soon as a call that moved the object ends; what is still wrong when the task is
            done is corrected afterwards. False: only afterwards (``Engine.correct``).
    """

    goal: HiddenGoal
    rules: list[CorrectionRule] = Field(min_length=1)
    max_corrections: int = Field(default=3, ge=1, le=10)
    repeat: bool = True
    live: bool = True


class PerturbationSpec(_Model):
    """A perturbation injected mid-task.

    Attributes:
        kind: "move_object" (teleport an object elsewhere after a call), "slip" (the held
            object drops out of the gripper mid-carry), "knock_over" (push a block off its
            support, tilted 90 degrees, after a call).
        after_call: The primitive whose call triggers it (``slip``: the carrying primitive).
        index: Which call of that primitive (1 = the first).
        object: The object to act on ("" = the object of that call, or the one held).
        offset: For ``move_object``: the xy shift (m); it is clamped to the workspace.
    """

    kind: str
    after_call: str = "put_first_on_second"
    index: int = Field(default=1, ge=1)
    object: str = ""
    offset: tuple[float, float] = (0.0, -0.12)

    @field_validator("kind")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in PERTURBATIONS:
            raise ValueError(_unknown("perturbation", value, PERTURBATIONS))
        return value


class Limits(_Model):
    """Per-episode limits.

    Attributes:
        max_attempts: The engine's attempt budget.
        max_tokens: Caps each model request's output tokens (LLM planners only).
        max_sim_s: Simulated seconds after which the episode is stopped (a timeout).
    """

    max_attempts: int = Field(default=3, ge=1, le=20)
    max_tokens: int | None = Field(default=None, ge=1)
    max_sim_s: float = Field(default=300.0, gt=0.0)


class TaskSpec(_Model):
    """One task of a suite.

    Attributes:
        id: Unique within the suite.
        suite: The suite's id (filled in by the loader).
        family: e.g. "long-horizon", "spatial-geometric", "navigation", "recovery".
        world: A registered world's id ("tabletop", "floor", "mobile" or a plugin's).
        template: The command with ``{slot}`` placeholders.
        slots: Slot name -> where its values come from.
        scene: Scene sampler settings.
        checker: The ground-truth checker.
        corrections: The simulated person (corrections suite).
        perturbations: Mid-task perturbations (recovery suite).
        limits: Attempts, tokens, simulated time.
        description: Free text (the paper's wording of the template, say).
    """

    id: str = Field(pattern=_ID)
    suite: str = ""
    family: str
    world: str = "tabletop"
    template: str = Field(min_length=1)
    slots: dict[str, SlotSpec] = Field(default_factory=dict)
    scene: SceneSampler = Field(default_factory=SceneSampler)
    checker: CheckerSpec
    corrections: CorrectionScript | None = None
    perturbations: list[PerturbationSpec] = Field(default_factory=list)
    limits: Limits = Field(default_factory=Limits)
    description: str = ""

    @field_validator("world")
    @classmethod
    def _known_world(cls, value: str) -> str:
        # Any registered world (policywright.worlds), not a fixed list: plugins add worlds.
        ids = default_world_registry().ids()
        if value not in ids:
            raise ValueError(_unknown("world", value, ids))
        return value

    def template_slots(self) -> list[str]:
        """The slot names the template uses, in order."""
        return _SLOT_RE.findall(self.template)


class SplitSettings(_Model):
    """One split: its tasks, its attribute set and its engine settings.

    Attributes:
        attributes: Which attribute set slot values come from ("seen", "unseen", "default").
        tasks: Task ids that run in this split.
        memory_exclude_families: Program-memory families the planner must not retrieve
            (``EngineConfig.memory_exclude_families``), so unseen instructions stay unseen.
    """

    attributes: str = "default"
    tasks: list[str] = Field(min_length=1)
    memory_exclude_families: list[str] = Field(default_factory=list)


class ReferenceTable(_Model):
    """Published numbers to print beside ours (percent success).

    Attributes:
        source: Where they come from.
        methods: Column names, e.g. ["CLIPort-oracle", "CLIPort", "NL Planner", "CaP"].
        cells: split -> task id -> one value per method (None = not applicable).
        totals: split -> group ("total", a family) -> one value per method.
    """

    source: str
    methods: list[str] = Field(min_length=1)
    cells: dict[str, dict[str, list[float | None]]] = Field(default_factory=dict)
    totals: dict[str, dict[str, list[float | None]]] = Field(default_factory=dict)


class Suite(_Model):
    """An evaluation suite.

    Attributes:
        id: The suite id ("cap-tabletop").
        description: What it measures.
        trials: Default trials per (task, split) cell.
        attributes: Attribute table name -> attribute set -> values.
        splits: Split ids, in report order.
        split_settings: Split id -> its tasks and settings.
        tasks: The tasks.
        reference: Published numbers to compare with (optional).
        source: The file it was loaded from (filled in by the loader).
    """

    id: str = Field(pattern=_ID)
    description: str = ""
    trials: int = Field(default=50, ge=1)
    attributes: dict[str, dict[str, list[str]]] = Field(default_factory=dict)
    splits: list[str] = Field(min_length=1)
    split_settings: dict[str, SplitSettings]
    tasks: list[TaskSpec] = Field(min_length=1)
    reference: ReferenceTable | None = None
    source: str = ""

    def task(self, task_id: str) -> TaskSpec:
        """The task with this id.

        Raises:
            UnknownNameError: no such task (with close matches).
        """
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise UnknownNameError(f"task of suite {self.id!r}", task_id, [t.id for t in self.tasks])

    def split(self, split_id: str) -> SplitSettings:
        """The settings of a split.

        Raises:
            UnknownNameError: no such split.
        """
        if split_id not in self.split_settings:
            raise UnknownNameError(f"split of suite {self.id!r}", split_id, list(self.splits))
        return self.split_settings[split_id]

    def tasks_for(self, split_id: str) -> list[TaskSpec]:
        """The tasks of a split, in the split's order."""
        return [self.task(t) for t in self.split(split_id).tasks]

    def slot_values(self, task: TaskSpec, slot: str, attribute_set: str) -> list[str]:
        """The values a slot takes in an attribute set (empty for ``from_scene`` slots)."""
        spec = task.slots[slot]
        if spec.values:
            return list(spec.values.get(attribute_set, spec.values.get("default", [])))
        out: list[str] = []
        for name in spec.attributes():
            table = self.attributes[name]
            out.extend(table.get(attribute_set, table.get("default", [])))
        return out


# -- loading ----------------------------------------------------------------------------------


def _unknown(kind: str, name: str, known: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown {kind} {name!r}{hint} (known: {', '.join(known)})"


def _suites_dir() -> Path:
    return Path(str(resources.files("policywright.evals").joinpath("suites")))


def suite_ids() -> list[str]:
    """The ids of the suites shipped with policywright (``evals/suites/*.yaml``)."""
    folder = _suites_dir()
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def _node_at(root: yaml.Node, loc: tuple[int | str, ...]) -> tuple[yaml.Node, tuple[Any, ...]]:
    """The deepest node on ``loc``'s path, and the part of ``loc`` that was found."""
    node: yaml.Node = root
    found: list[Any] = []
    for key in loc:
        nxt: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(key):
                    nxt = v
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(key, int)
            and 0 <= key < len(node.value)
        ):
            nxt = node.value[key]
        if nxt is None:
            break
        node, found = nxt, [*found, key]
    return node, tuple(found)


def _field_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _where(root: yaml.Node | None, loc: tuple[Any, ...]) -> str:
    line = 1
    if root is not None:
        node, _ = _node_at(root, loc)
        line = node.start_mark.line + 1
    return f"line {line}, field {_field_path(loc)}"


#: How many problems of a malformed suite file one error message lists.
_MAX_LISTED = 5


def _config_error(
    path: str, root: yaml.Node | None, problems: list[tuple[tuple[Any, ...], str]]
) -> ConfigError:
    """One error naming the file and, for each problem (up to five), its line and field."""
    first_loc, first_msg = problems[0]
    lines = [f"{path}, {_where(root, first_loc)}: {first_msg}"]
    for loc, msg in problems[1:_MAX_LISTED]:
        lines.append(f"  {path}, {_where(root, loc)}: {msg}")
    if len(problems) > _MAX_LISTED:
        lines.append(f"  ... and {len(problems) - _MAX_LISTED} more problems")
    return ConfigError("\n".join(lines))


def _check_refs(suite: Suite) -> list[tuple[tuple[Any, ...], str]]:
    """Cross-references pydantic cannot see: task ids, attribute tables, template slots."""
    problems: list[tuple[tuple[Any, ...], str]] = []
    ids = [t.id for t in suite.tasks]
    for i, tid in enumerate(ids):
        if ids.index(tid) != i:
            problems.append((("tasks", i, "id"), f"duplicate task id {tid!r}"))
    for sid in suite.splits:
        if sid not in suite.split_settings:
            problems.append((("splits",), f"split {sid!r} has no entry in split_settings"))
    for sid, settings in suite.split_settings.items():
        if sid not in suite.splits:
            problems.append((("split_settings", sid), f"split {sid!r} is not listed in splits"))
        for j, tid in enumerate(settings.tasks):
            if tid not in ids:
                problems.append((("split_settings", sid, "tasks", j), _unknown("task", tid, ids)))
    for i, task in enumerate(suite.tasks):
        used = task.template_slots()
        for name in used:
            if name not in task.slots:
                problems.append(
                    (("tasks", i, "template"), f"the template uses {{{name}}}, not in slots")
                )
        for name, spec in task.slots.items():
            here = ("tasks", i, "slots", name)
            sources = sum(
                [spec.attribute is not None, bool(spec.values), spec.from_scene is not None]
            )
            if sources != 1:
                problems.append((here, "give exactly one of 'attribute', 'values' or 'from_scene'"))
            for attr in spec.attributes():
                if attr not in suite.attributes:
                    problems.append(
                        (
                            (*here, "attribute"),
                            _unknown("attribute table", attr, list(suite.attributes)),
                        )
                    )
            for other in spec.distinct_from:
                if other not in task.slots:
                    problems.append(((*here, "distinct_from"), f"no slot {other!r} in this task"))
            hidden = task.corrections.model_dump_json() if task.corrections else ""
            if name not in used and f"{{{name}}}" not in hidden:
                problems.append(
                    (here, f"slot {name!r} is used neither by the template nor by the corrections")
                )
    if suite.reference is not None:
        n = len(suite.reference.methods)
        for sid, cells in suite.reference.cells.items():
            for tid, row in cells.items():
                if tid not in ids:
                    problems.append((("reference", "cells", sid, tid), _unknown("task", tid, ids)))
                if len(row) != n:
                    problems.append(
                        (("reference", "cells", sid, tid), f"needs {n} values (one per method)")
                    )
    return problems


def parse_suite(text: str, path: str) -> Suite:
    """Validate suite YAML text.

    Args:
        text: The YAML.
        path: Shown in errors.

    Raises:
        ConfigError: malformed YAML or an invalid field (the message names file, line, field).
    """
    # libyaml's loader when the wheel has it (every episode loads its suite); the node tree that
    # maps a field to its line is only built when there is an error to report.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise ConfigError(f"{path}, line {line}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}, line 1: a suite file must be a mapping (id, splits, tasks, ...)"
        )
    try:
        suite = Suite.model_validate({**data, "source": path})
    except ValidationError as exc:
        found = [(tuple(err["loc"]), err["msg"]) for err in exc.errors()]
        raise _config_error(path, yaml.compose(text, Loader=loader), found) from None
    problems = _check_refs(suite)
    if problems:
        raise _config_error(path, yaml.compose(text, Loader=loader), problems)
    tasks = [t.model_copy(update={"suite": suite.id}) for t in suite.tasks]
    return suite.model_copy(update={"tasks": tasks})


def load_suite(name_or_path: str) -> Suite:
    """Load a shipped suite by id, or a suite YAML file by path.

    Args:
        name_or_path: "cap-tabletop", "navigation", "recovery", "corrections", or a file path.

    Raises:
        UnknownNameError: neither a shipped suite id nor an existing file.
        ConfigError: the file is malformed (file, line and field in the message).
    """
    candidate = Path(name_or_path)
    if name_or_path.endswith((".yaml", ".yml")) or candidate.is_file():
        if not candidate.is_file():
            raise ConfigError(f"suite file {name_or_path!r} does not exist")
        path = candidate
    else:
        ids = suite_ids()
        if name_or_path not in ids:
            raise UnknownNameError("suite", name_or_path, ids)
        path = _suites_dir() / f"{name_or_path}.yaml"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read suite file {str(path)!r}: {exc}") from exc
    return parse_suite(text, str(path))
