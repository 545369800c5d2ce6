"""The world registry: world ids -> :class:`WorldSpec`, from entry points (cf. Gymnasium).

A world registers like a Gymnasium environment: an id and an entry point that builds it
(``register("tray", entry_point="my_pkg.worlds:make_tray")``). Installed packages add worlds
through the entry point group ``policywright.worlds`` (an entry point's value is a WorldSpec or
a list of them); the three built-in worlds (``tabletop``, ``floor``, ``mobile``) are always
present and come through the same mechanism.

Every list of world kinds in the package is derived from this registry: the worlds the engine
builds, the kinds a primitive or a skill may declare, the worlds a suite's task may name.

A broken plugin must not break unrelated commands (as in the skill registry): an entry point
that fails to import, provides something else or takes an id already registered is skipped
with a warning; using an id it may have provided raises a :class:`RegistrationError` naming it.

Factories are resolved when a world is first built, not when the registry loads, so listing
the worlds imports no plugin's physics.
"""

from __future__ import annotations

import importlib
import logging
import math
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

from policywright.errors import RegistrationError, UnknownNameError, UserError
from policywright.sim._protocol import World

if TYPE_CHECKING:
    # Types only: the config module sits above the agent layer, which sits above sim.
    from policywright.config import EngineConfig

__all__ = [
    "ENTRY_POINT_GROUP",
    "WORLD_ID_PATTERN",
    "WorldCheckError",
    "WorldFactory",
    "WorldRegistry",
    "WorldResume",
    "WorldSpec",
    "check_world",
]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP: Final[str] = "policywright.worlds"
#: ``"tabletop"``, or namespaced ``"my_pkg/tray"``: lower case, digits, ``_`` and ``-``.
WORLD_ID_PATTERN: Final[re.Pattern[str]] = re.compile(r"^[a-z][a-z0-9_-]*(/[a-z][a-z0-9_-]*)?$")
_KIND_PATTERN: Final[re.Pattern[str]] = re.compile(r"^[a-z][a-z0-9_-]*$")
_FAMILY_PATTERN: Final[re.Pattern[str]] = re.compile(r"^[a-z][a-z0-9_]*$")
_MAX_SUMMARY: Final[int] = 120


class WorldFactory(Protocol):
    """Builds a world for a command (``WorldSpec.entry_point``)."""

    def __call__(
        self,
        command: str,
        *,
        seed: int,
        objects: Sequence[str] | None,
        scene_file: Path | None,
        gui: bool,
        config: EngineConfig | None,
    ) -> World:
        """The world ``command`` runs in.

        Args:
            command: The command (a tabletop scene holds every object it mentions).
            seed: The scene's seed (same seed, same world).
            objects: Objects to place, for worlds with ``takes_objects``; else None.
            scene_file: A scene file, for worlds with ``takes_objects``; else None.
            gui: Open a PyBullet window.
            config: Engine settings (safety limits), or None for the defaults.

        Raises:
            UserError: the scene cannot be built from these inputs.
        """
        ...


class WorldResume(Protocol):
    """Rebuilds a world from a snapshot's spec (``WorldSpec.resume``)."""

    def __call__(self, spec: Mapping[str, Any], *, gui: bool, config: EngineConfig | None) -> World:
        """The world the snapshot was taken in, freshly built (the caller restores the state).

        Args:
            spec: The ``"spec"`` field of the snapshot's sidecar (the world's spec as JSON).
            gui: Open a PyBullet window.
            config: Engine settings (safety limits), or None for the defaults.
        """
        ...


@dataclass(frozen=True)
class WorldSpec:
    """A registered world.

    Attributes:
        id: What ``make_world``, ``--world`` and a suite's ``world:`` name it by.
        entry_point: A :class:`WorldFactory`, or ``"module:attr"`` naming one (imported when
            the world is first built, so listing worlds imports no physics).
        resume: A :class:`WorldResume` (or ``"module:attr"``) that rebuilds the world from a
            snapshot of it; None if its snapshots cannot be resumed (then a thread in it cannot
            be continued after a crash).
        kind: The world's ``World.kind``: which primitives (``@primitive(worlds=...)``) and
            skills (``SkillInfo.world``) apply, and the kind its snapshots record. Defaults to
            the id. Worlds that share a kind share its primitives and its snapshot format: a
            snapshot of kind ``k`` resumes through the world whose id is ``k`` (else the only
            world of kind ``k`` that can resume).
        skills: The skill families its primitives run ("grasp", "locomotion", ...); the
            engine config may select a variant for each.
        summary: One line for listings.
        takes_objects: Whether the factory accepts an object list and a scene file (the
            tabletop); for other worlds ``--objects`` and ``--scene`` are refused.
    """

    id: str
    entry_point: WorldFactory | str
    resume: WorldResume | str | None = None
    kind: str = ""
    skills: tuple[str, ...] = ()
    summary: str = ""
    takes_objects: bool = False

    def __post_init__(self) -> None:
        if not self.kind:
            # A frozen dataclass: the default kind is the id, set once here.
            object.__setattr__(self, "kind", self.id)
        object.__setattr__(self, "skills", tuple(self.skills))

    def factory(self) -> WorldFactory:
        """The factory, imported if the entry point is a ``"module:attr"`` string.

        Raises:
            RegistrationError: the string does not name an importable callable.
        """
        return _resolve(self.entry_point, f"world {self.id!r}: entry_point")  # type: ignore[no-any-return]

    def resumer(self) -> WorldResume | None:
        """The snapshot resumer (imported if given as a string), or None.

        Raises:
            RegistrationError: the string does not name an importable callable.
        """
        if self.resume is None:
            return None
        return _resolve(self.resume, f"world {self.id!r}: resume")  # type: ignore[no-any-return]

    def make(
        self,
        command: str = "",
        *,
        seed: int = 0,
        objects: Sequence[str] | None = None,
        scene_file: Path | None = None,
        gui: bool = False,
        config: EngineConfig | None = None,
    ) -> World:
        """Build the world (see :class:`WorldFactory` for the arguments).

        Raises:
            UserError: objects or a scene file for a world that takes none, or the factory
                cannot build the scene.
            RegistrationError: the entry point cannot be imported.
        """
        if (objects or scene_file) and not self.takes_objects:
            raise UserError(
                f"--objects and --scene describe tabletop scenes, not the {self.id} world"
            )
        return self.factory()(
            command, seed=seed, objects=objects, scene_file=scene_file, gui=gui, config=config
        )


def _resolve(target: object, where: str) -> Any:
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        if not module or not attr:
            raise RegistrationError(f"{where}: {target!r} is not 'module:attr'")
        try:
            obj: Any = importlib.import_module(module)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except Exception as exc:  # a plugin may fail to import in any way; say which
            raise RegistrationError(
                f"{where}: cannot import {target!r}: {type(exc).__name__}: {exc}"
            ) from exc
        target = obj
    if not callable(target):
        raise RegistrationError(f"{where}: {target!r} is not callable")
    return target


@dataclass(frozen=True)
class _Broken:
    """An entry point that could not be registered (kept so that using it explains why)."""

    name: str
    value: str
    package: str
    error: str
    ids: tuple[str, ...] = ()

    def describe(self) -> str:
        return (
            f"entry point {self.name!r} = {self.value!r} of package {self.package!r} "
            f"(group {ENTRY_POINT_GROUP!r}): {self.error}"
        )


def _iter_specs(obj: Any) -> Iterator[WorldSpec]:
    if isinstance(obj, WorldSpec):
        yield obj
    elif isinstance(obj, Iterable) and not isinstance(obj, str | bytes | Mapping):
        for item in obj:
            if not isinstance(item, WorldSpec):
                raise RegistrationError(f"holds {type(item).__name__}, not a WorldSpec")
            yield item
    else:
        raise RegistrationError(f"provides {type(obj).__name__}, not a WorldSpec or a list of them")


def _structural_problems(spec: WorldSpec) -> list[str]:
    """The cheap rules every registered world obeys (nothing is imported or built)."""
    problems: list[str] = []
    if not WORLD_ID_PATTERN.fullmatch(spec.id):
        problems.append(
            f"id {spec.id!r} is malformed: use lower case, digits, '_' and '-', optionally "
            "namespaced ('my_pkg/tray')"
        )
    if not _KIND_PATTERN.fullmatch(spec.kind):
        problems.append(f"kind {spec.kind!r} is malformed: one lower-case word ('tabletop')")
    if not (isinstance(spec.entry_point, str) or callable(spec.entry_point)):
        problems.append("entry_point is neither callable nor a 'module:attr' string")
    if spec.resume is not None and not (isinstance(spec.resume, str) or callable(spec.resume)):
        problems.append("resume is neither callable nor a 'module:attr' string")
    bad = [f for f in spec.skills if not isinstance(f, str) or not _FAMILY_PATTERN.fullmatch(f)]
    if bad:
        problems.append(f"skills {bad} are not skill family names ('grasp', 'locomotion')")
    return problems


class WorldRegistry:
    """Worlds keyed by id, with did-you-mean lookups; builds and resumes them."""

    def __init__(self, specs: Iterable[WorldSpec] = ()) -> None:
        """Create a registry holding ``specs``.

        Args:
            specs: worlds to add; a malformed or duplicate id raises RegistrationError.
        """
        self._specs: dict[str, WorldSpec] = {}
        self._broken: list[_Broken] = []
        for spec in specs:
            self.add(spec)

    @classmethod
    def from_entry_points(
        cls,
        group: str = ENTRY_POINT_GROUP,
        *,
        strict: bool = False,
        builtins: Iterable[WorldSpec] = (),
    ) -> WorldRegistry:
        """Build the registry of ``builtins`` plus every installed package's worlds.

        The built-ins are registered first (an entry point naming the same objects is not a
        duplicate), so the default registry works before the package's own metadata is
        installed.

        Args:
            group: the entry point group to load.
            strict: raise on the first broken entry point instead of skipping it.
            builtins: worlds registered before the entry points (the default registry passes
                the three built-in worlds).

        Raises:
            RegistrationError: only with ``strict``: an entry point fails to import, provides
                something else than WorldSpec, or a malformed or duplicate id.
        """
        reg = cls(builtins)
        for ep in sorted(entry_points(group=group), key=lambda e: e.name):
            problem = reg._load(ep)
            if problem is None:
                continue
            if strict:
                raise RegistrationError(problem.describe())
            logger.warning("skipping a broken world plugin: %s", problem.describe())
            reg._broken.append(problem)
        return reg

    def _load(self, ep: EntryPoint) -> _Broken | None:
        dist = getattr(ep, "dist", None)
        package = str(getattr(dist, "name", None) or "?")

        def broken(error: str, ids: tuple[str, ...] = ()) -> _Broken:
            return _Broken(ep.name, ep.value, package, error, ids)

        try:
            obj = ep.load()
        except Exception as exc:  # any import-time failure of a plugin, by design
            return broken(f"cannot be imported: {type(exc).__name__}: {exc}")
        try:
            specs = list(_iter_specs(obj))
        except RegistrationError as exc:
            return broken(str(exc))
        for spec in specs:
            problems = _structural_problems(spec)
            if problems:
                return broken(f"world {spec.id!r}: " + "; ".join(problems))
        new = [s for s in specs if self._specs.get(s.id) is not s]  # the built-ins come twice
        taken = tuple(s.id for s in new if s.id in self._specs)
        if taken:
            return broken(f"world id(s) {list(taken)} are already registered", taken)
        for spec in new:
            self._specs[spec.id] = spec
        return None

    def add(self, spec: WorldSpec) -> None:
        """Register a world.

        Args:
            spec: the world.

        Raises:
            RegistrationError: not a WorldSpec, a malformed id or kind, or the id is taken.
        """
        if not isinstance(spec, WorldSpec):
            raise RegistrationError(f"not a WorldSpec: {spec!r}")
        problems = _structural_problems(spec)
        if problems:
            raise RegistrationError(f"world {spec.id!r}: " + "; ".join(problems))
        if spec.id in self._specs:
            raise RegistrationError(f"world {spec.id!r} is registered twice")
        self._specs[spec.id] = spec

    @property
    def broken(self) -> tuple[str, ...]:
        """Entry points that were skipped, one line each naming the package and the reason."""
        return tuple(b.describe() for b in self._broken)

    def get(self, world_id: str) -> WorldSpec:
        """The world registered as ``world_id``.

        Raises:
            RegistrationError: the id is claimed by a skipped entry point, or it is unknown
                while some entry point failed to load (it may have provided it).
            UnknownNameError: no such world (the message suggests close ids).
        """
        for b in self._broken:
            if world_id in b.ids:
                raise RegistrationError(f"world {world_id!r} is ambiguous: {b.describe()}")
        try:
            return self._specs[world_id]
        except KeyError:
            unknown = UnknownNameError("world", world_id, list(self._specs))
        unloaded = [b for b in self._broken if not b.ids]
        if unloaded:
            why = "; ".join(b.describe() for b in unloaded)
            raise RegistrationError(f"{unknown}; a plugin that may provide it is broken: {why}")
        raise unknown

    def ids(self) -> list[str]:
        """Every world id, built-ins first, in registration order."""
        return list(self._specs)

    def kinds(self) -> list[str]:
        """Every world kind (``World.kind``) some registered world has, in registration order."""
        return list(dict.fromkeys(s.kind for s in self._specs.values()))

    def skill_families(self) -> list[str]:
        """Every skill family some registered world's primitives run, in registration order."""
        return list(dict.fromkeys(f for s in self._specs.values() for f in s.skills))

    def make(
        self,
        world_id: str,
        command: str = "",
        *,
        seed: int = 0,
        objects: Sequence[str] | None = None,
        scene_file: Path | None = None,
        gui: bool = False,
        config: EngineConfig | None = None,
    ) -> World:
        """Build the world ``world_id`` for ``command`` (see :meth:`WorldSpec.make`).

        Raises:
            UnknownNameError: no such world.
            UserError: the scene cannot be built.
        """
        return self.get(world_id).make(
            command, seed=seed, objects=objects, scene_file=scene_file, gui=gui, config=config
        )

    def for_snapshot(self, kind: str) -> WorldSpec | None:
        """The world that resumes snapshots of ``kind`` (None if there is no single one).

        That is the world whose id is ``kind``, else the only world of that kind with a
        ``resume``.
        """
        spec = self._specs.get(kind)
        if spec is not None and spec.kind == kind and spec.resume is not None:
            return spec
        found = [s for s in self._specs.values() if s.kind == kind and s.resume is not None]
        return found[0] if len(found) == 1 else None

    def resume(
        self,
        kind: str,
        spec: Mapping[str, Any],
        *,
        gui: bool = False,
        config: EngineConfig | None = None,
    ) -> World:
        """Rebuild a world of ``kind`` from a snapshot's spec (the caller restores its state).

        Raises:
            UnknownNameError: no registered world resumes snapshots of ``kind``.
        """
        found = self.for_snapshot(kind)
        resumer = found.resumer() if found is not None else None
        if resumer is None:
            raise UnknownNameError("world", kind, self.kinds())
        return resumer(spec, gui=gui, config=config)

    def __contains__(self, world_id: object) -> bool:
        return world_id in self._specs

    def __len__(self) -> int:
        return len(self._specs)

    def __iter__(self) -> Iterator[WorldSpec]:
        return iter(self._specs.values())


class WorldCheckError(RegistrationError):
    """A world failed :func:`check_world`; ``problems`` lists every finding."""

    def __init__(self, world_id: str, problems: list[str]) -> None:
        self.world_id, self.problems = world_id, list(problems)
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"world {world_id!r} failed its checks:\n{lines}")


def _fingerprint(world: World) -> dict[str, tuple[float, ...]]:
    """The true object positions, rounded (to compare two builds from one seed)."""
    return {
        name: tuple(round(float(v), 4) for v in pose.position)
        for name, pose in sorted(world.true_poses().items())
    }


def _check_built(spec: WorldSpec, world: Any, problems: list[str]) -> None:
    if not isinstance(world, World):
        missing = [
            m for m in ("kind", "cameras", "detect", "step", "save_state") if not hasattr(world, m)
        ]
        problems.append(
            f"the factory built a {type(world).__name__}, which does not satisfy the World "
            f"protocol (missing e.g. {', '.join(missing) or 'some members'})"
        )
        return
    if world.kind != spec.kind:
        problems.append(f"the built world's kind {world.kind!r} differs from {spec.kind!r}")
    if not world.cameras:
        problems.append("the world has no camera (the planner's overview is cameras[0])")
    before = world.sim_time
    world.step(1)
    if not (math.isfinite(world.sim_time) and world.sim_time > before):
        problems.append("step(1) did not advance sim_time")
    detected = world.detect()
    if not isinstance(detected, dict):
        problems.append(f"detect() returned {type(detected).__name__}, not a dict")


def _smoke(spec: WorldSpec, problems: list[str]) -> None:
    try:
        factory = spec.factory()
        resumer = spec.resumer()
    except RegistrationError as exc:
        problems.append(str(exc))
        return
    prints: list[dict[str, tuple[float, ...]]] = []
    for _ in range(2):
        try:
            world = factory("", seed=0, objects=None, scene_file=None, gui=False, config=None)
        except Exception as exc:  # the check reports whatever a plugin raises
            problems.append(f"factory: building seed 0 raised {type(exc).__name__}: {exc}")
            return
        try:
            _check_built(spec, world, problems)
            if problems:
                return
            prints.append(_fingerprint(world))
            if resumer is not None and len(prints) == 1:
                _check_resume(spec, world, resumer, problems)
        except Exception as exc:  # a world's own failure, reported as a finding
            problems.append(f"using the built world raised {type(exc).__name__}: {exc}")
            return
        finally:
            close = getattr(world, "close", None)  # not every object the factory made is a World
            if callable(close):
                close()
    if prints[0] != prints[1]:
        problems.append("not deterministic: two builds from seed 0 placed the objects differently")


def _check_resume(spec: WorldSpec, world: World, resumer: WorldResume, problems: list[str]) -> None:
    import json

    with tempfile.TemporaryDirectory() as tmp:
        path = world.save_state(Path(tmp) / "snap.bullet")
        sidecar = json.loads(Path(f"{path}.json").read_text(encoding="utf-8"))
        if sidecar.get("kind") != spec.kind:
            problems.append(f"the snapshot records kind {sidecar.get('kind')!r}, not {spec.kind!r}")
            return
        again = resumer(sidecar["spec"], gui=False, config=None)
        try:
            again.restore_state(path)
            if sorted(again.true_poses()) != sorted(world.true_poses()):
                problems.append("resume: the resumed world holds other objects than the saved one")
        finally:
            again.close()


def check_world(spec: WorldSpec, *, smoke: bool = True, raise_on_error: bool = True) -> list[str]:
    """Check a world the way the engine will use it (cf. ``check_primitive``, ``check_skill``).

    Checks, cheapest first: the id, kind and skill family strings, the summary, that the
    entry point (and ``resume``) name importable callables; with ``smoke``: that the factory
    builds, from seed 0, a :class:`World` of the declared kind with a camera, whose ``step``
    advances ``sim_time`` and whose ``detect`` returns a dict; that two builds from one seed
    place the objects alike; and that a snapshot of it resumes to the same objects.

    Args:
        spec: The world.
        smoke: Also build it (twice) and round-trip a snapshot (builds physics worlds).
        raise_on_error: Raise :class:`WorldCheckError` if anything is wrong (else return the
            problems).

    Returns:
        The problems found (empty when the world is fine).

    Raises:
        WorldCheckError: with ``raise_on_error``, listing every problem.
    """
    if not isinstance(spec, WorldSpec):
        problems = [f"not a WorldSpec: {type(spec).__name__}"]
        if raise_on_error:
            raise WorldCheckError(repr(spec), problems)
        return problems
    problems = _structural_problems(spec)
    summary = spec.summary.strip()
    if not summary:
        problems.append("summary is empty")
    elif "\n" in summary or len(summary) > _MAX_SUMMARY:
        problems.append(f"summary must be one line of at most {_MAX_SUMMARY} characters")
    if not problems:
        try:
            spec.factory()
            spec.resumer()
        except RegistrationError as exc:
            problems.append(str(exc))
    if smoke and not problems:
        _smoke(spec, problems)
    if problems:
        logger.info("check_world(%s): %d problem(s)", spec.id, len(problems))
        if raise_on_error:
            raise WorldCheckError(spec.id, problems)
    return problems
