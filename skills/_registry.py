"""The open skill registry: versioned ids -> :class:`SkillInfo`, from entry points.

Every skill variant, built-in or third-party, is a :class:`SkillInfo` named by the entry point
group ``policywright.skills`` (an entry point's value is a SkillInfo or a list of them).

A broken plugin must not break unrelated commands: :meth:`SkillRegistry.from_entry_points`
skips an entry point that fails to import (or provides garbage, or an id another package already
took), logs a warning and keeps the problem. Listing works; *using* an affected id raises a
:class:`RegistrationError` naming the entry point and its package.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from types import MappingProxyType
from typing import Any, Final

from policywright.errors import RegistrationError, UnknownNameError
from policywright.skills._base import Skill
from policywright.skills._info import SkillInfo

__all__ = [
    "ENTRY_POINT_GROUP",
    "SKILLS",
    "SKILL_ID_PATTERN",
    "BrokenEntryPoint",
    "SkillRegistry",
    "default_skill_registry",
    "get_skill",
]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP: Final[str] = "policywright.skills"
#: ``"<family>/<variant>-v<N>"``: lower-case family, variant, and an integer version.
SKILL_ID_PATTERN: Final[re.Pattern[str]] = re.compile(r"^[a-z][a-z0-9_]*/[a-z][a-z0-9_-]*-v[0-9]+$")


@dataclass(frozen=True)
class BrokenEntryPoint:
    """An entry point that could not be registered (kept so that using it explains why).

    Attributes:
        name: The entry point's name.
        value: Its ``module:attr`` value.
        package: The distribution that declares it ("?" if unknown).
        error: What went wrong.
        ids: Skill ids it concerns, if known (a duplicate id; empty for an import error).
    """

    name: str
    value: str
    package: str
    error: str
    ids: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line naming the entry point, its package and the problem."""
        return (
            f"entry point {self.name!r} = {self.value!r} of package {self.package!r} "
            f"(group {ENTRY_POINT_GROUP!r}): {self.error}"
        )


def _package(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return str(getattr(dist, "name", None) or "?")


def _iter_infos(obj: Any) -> Iterator[SkillInfo]:
    if isinstance(obj, SkillInfo):
        yield obj
    elif isinstance(obj, Iterable) and not isinstance(obj, str | bytes | Mapping):
        for item in obj:
            if not isinstance(item, SkillInfo):
                raise RegistrationError(f"holds {type(item).__name__}, not a SkillInfo")
            yield item
    else:
        raise RegistrationError(f"provides {type(obj).__name__}, not a SkillInfo or a list of them")


def validate_info(info: Any) -> SkillInfo:
    """The structural rules every registered skill obeys (cheap; no skill is constructed).

    Raises:
        RegistrationError: not a SkillInfo, a malformed id, or a family that is not the id's
            prefix.
    """
    if not isinstance(info, SkillInfo):
        raise RegistrationError(f"not a SkillInfo: {info!r}")
    if not SKILL_ID_PATTERN.fullmatch(info.id):
        raise RegistrationError(
            f"skill id {info.id!r} is malformed: use '<family>/<variant>-v<N>' in lower case, "
            "e.g. 'grasp/learned-v1'"
        )
    family = info.id.split("/", 1)[0]
    if info.family != family:
        raise RegistrationError(
            f"skill {info.id!r}: family {info.family!r} must equal the id's prefix {family!r}"
        )
    if not callable(info.factory):
        raise RegistrationError(f"skill {info.id!r}: factory is not callable")
    return info


class SkillRegistry:
    """Skill variants keyed by versioned id, with families and did-you-mean lookups."""

    def __init__(self, infos: Iterable[SkillInfo] = ()) -> None:
        """Create a registry holding ``infos``.

        Args:
            infos: skill variants; a malformed or duplicate id raises RegistrationError.
        """
        self._infos: dict[str, SkillInfo] = {}
        self._broken: list[BrokenEntryPoint] = []
        for info in infos:
            self.add(info)

    @classmethod
    def from_entry_points(
        cls, group: str = ENTRY_POINT_GROUP, *, strict: bool = False
    ) -> SkillRegistry:
        """Build the registry of the built-ins plus every installed package's entry points.

        The built-in scripted arm skills are always present (an entry point naming the same
        objects is not a duplicate), so the registry works before any plugin is installed.

        Args:
            group: the entry point group to load.
            strict: raise on the first broken entry point instead of skipping it.

        Returns:
            The registry; skipped entry points are in :attr:`broken`.

        Raises:
            RegistrationError: only with ``strict``: an entry point fails to import, provides
                something else than SkillInfo, or a malformed or duplicate id.
        """
        from policywright.skills._builtin_infos import SKILL_INFOS as BUILTIN

        reg = cls(BUILTIN)
        for ep in sorted(entry_points(group=group), key=lambda e: e.name):
            problem = reg._load(ep)
            if problem is None:
                continue
            if strict:
                raise RegistrationError(problem.describe())
            logger.warning("skipping a broken skill plugin: %s", problem.describe())
            reg._broken.append(problem)
        return reg

    def _load(self, ep: EntryPoint) -> BrokenEntryPoint | None:
        def broken(error: str, ids: tuple[str, ...] = ()) -> BrokenEntryPoint:
            return BrokenEntryPoint(ep.name, ep.value, _package(ep), error, ids)

        try:
            obj = ep.load()
        except Exception as exc:  # any import-time failure of a plugin, by design
            return broken(f"cannot be imported: {type(exc).__name__}: {exc}")
        try:
            infos = [validate_info(i) for i in _iter_infos(obj)]
        except RegistrationError as exc:
            return broken(str(exc))
        new = [i for i in infos if self._infos.get(i.id) is not i]  # the built-ins come twice
        taken = tuple(i.id for i in new if i.id in self._infos)
        if taken:
            return broken(f"skill id(s) {list(taken)} are already registered", taken)
        for info in new:
            self._infos[info.id] = info
        return None

    def add(self, info: SkillInfo) -> None:
        """Register a skill variant.

        Args:
            info: the variant.

        Raises:
            RegistrationError: not a SkillInfo, a malformed id, or the id is taken.
        """
        validate_info(info)
        if info.id in self._infos:
            raise RegistrationError(f"skill {info.id!r} is registered twice")
        self._infos[info.id] = info

    @property
    def broken(self) -> tuple[BrokenEntryPoint, ...]:
        """Entry points that were skipped, with the reason."""
        return tuple(self._broken)

    def get(self, skill_id: str) -> SkillInfo:
        """The variant registered as ``skill_id``.

        Raises:
            RegistrationError: the id is claimed by an entry point that was skipped (duplicate),
                or it is unknown while some entry point failed to load (it may have provided
                it): the message names the entry point and its package.
            UnknownNameError: no such id (the message suggests close matches).
        """
        for b in self._broken:
            if skill_id in b.ids:
                raise RegistrationError(f"skill {skill_id!r} is ambiguous: {b.describe()}")
        try:
            return self._infos[skill_id]
        except KeyError:
            unknown = UnknownNameError("skill", skill_id, list(self._infos))
        unloaded = [b for b in self._broken if not b.ids]
        if unloaded:
            why = "; ".join(b.describe() for b in unloaded)
            raise RegistrationError(f"{unknown}; a plugin that may provide it is broken: {why}")
        raise unknown

    def create(self, skill_id: str) -> Skill[Any]:
        """A fresh instance of the variant ``skill_id``.

        Raises:
            UnknownNameError: no such id.
            SkillLoadError: its weights are missing or corrupt.
        """
        skill: Skill[Any] = self.get(skill_id).factory()
        return skill

    def families(self) -> list[str]:
        """The skill families present, sorted."""
        return sorted({i.family for i in self._infos.values()})

    def by_family(self, family: str) -> list[SkillInfo]:
        """The variants of ``family``: ``*/scripted-vN`` first, other scripted, then learned.

        Raises:
            UnknownNameError: no variant of that family is registered.
        """
        found = [i for i in self._infos.values() if i.family == family]
        if not found:
            raise UnknownNameError("skill family", family, self.families())
        return sorted(
            found, key=lambda i: (i.learned, not i.id.split("/")[1].startswith("scripted-"), i.id)
        )

    def ids(self) -> list[str]:
        """Every registered id, sorted."""
        return sorted(self._infos)

    def __contains__(self, skill_id: object) -> bool:
        return skill_id in self._infos

    def __len__(self) -> int:
        return len(self._infos)

    def __iter__(self) -> Iterator[SkillInfo]:
        return iter(sorted(self._infos.values(), key=lambda i: i.id))


@functools.cache
def default_skill_registry() -> SkillRegistry:
    """The registry of every installed skill (built once per process; plugins skip-if-broken)."""
    return SkillRegistry.from_entry_points()


def _builtin_factories() -> dict[str, Callable[[], Skill[Any]]]:
    from policywright.skills._builtin_infos import SKILL_INFOS

    return {i.id: i.factory for i in SKILL_INFOS}


#: Versioned id -> factory of the built-in scripted arm skills (a read-only view; kept for
#: existing callers; :func:`default_skill_registry` holds every installed variant).
SKILLS: Final[Mapping[str, Callable[[], Skill[Any]]]] = MappingProxyType(_builtin_factories())


def get_skill(skill_id: str) -> Skill[Any]:
    """Create a fresh skill by its versioned id (e.g. ``"grasp/scripted-v1"``).

    The built-ins are looked up first; any other id goes through
    :func:`default_skill_registry` (installed plugins).

    Raises:
        UnknownNameError: The id is not registered (the message suggests close matches).
    """
    factory = SKILLS.get(skill_id)
    if factory is not None:
        return factory()
    return default_skill_registry().create(skill_id)
