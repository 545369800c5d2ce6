"""The run folder: ``runs/<run-id>/`` holds everything an evaluation run produced.

Layout (format version :data:`RUN_FORMAT_VERSION`)::

    manifest.json                 what was asked: suites, options, the planned episodes
    episodes/<suite>/<episode_id>.json
                                  one EpisodeResult per finished episode (written atomically)
    episodes/<suite>/<episode_id>.infra.json
                                  the first try's infrastructure error, when it was retried
    artifacts/<suite>/<episode_id>/
                                  programs, verdicts, final frames, GIFs, the episode's state

Episode ids are unique within a suite; ``policywright eval all`` runs several suites in one
folder, hence the suite level.
    report.md, report.html        written by ``policywright eval report``

Every file is written to a temporary name and renamed, so a killed run leaves only complete
files; a rerun reads them back and skips the finished episodes.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from policywright.errors import UserError

__all__ = [
    "RUN_FORMAT_VERSION",
    "Manifest",
    "PlannedEpisode",
    "RunData",
    "artifacts_dir",
    "atomic_write_text",
    "episode_id_of",
    "episode_key",
    "episode_path",
    "finished",
    "load_run",
    "read_manifest",
]

#: Bump when the folder layout or the manifest changes incompatibly.
RUN_FORMAT_VERSION = 1

MANIFEST = "manifest.json"
EPISODES = "episodes"
ARTIFACTS = "artifacts"


class PlannedEpisode(BaseModel):
    """One planned episode as the manifest keeps it.

    Attributes:
        key: ``<suite>/<episode_id>``: its result's path under ``episodes/``.
        suite_id: The suite's id (the spec may name a YAML path instead).
        family: The task's family (for an infrastructure-error record).
        timeout_s: Wall-clock limit of one try (from the task's simulated-time limit).
        spec: The ``EpisodeSpec`` fields, exactly what the worker receives.
    """

    model_config = ConfigDict(extra="forbid")

    key: str
    suite_id: str
    family: str
    timeout_s: float
    spec: dict[str, Any]

    @property
    def episode_id(self) -> str:
        """The episode id (``EpisodeSpec.episode_id``)."""
        return episode_id_of(self.spec)


class Manifest(BaseModel):
    """What a run was asked to do.

    Attributes:
        version: The run-folder format version (:data:`RUN_FORMAT_VERSION`).
        run_id: The folder's name.
        created: ISO 8601 UTC time the run was first started.
        policywright_version: The package version that created it.
        suites: Suite ids (or YAML paths) in the run.
        options: The options it was started with (planner, trials, seed, ...).
        episodes: The planned episodes, in run order (:class:`PlannedEpisode`).
    """

    model_config = ConfigDict(extra="forbid")

    version: int = RUN_FORMAT_VERSION
    run_id: str
    created: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    policywright_version: str
    suites: list[str]
    options: dict[str, Any] = Field(default_factory=dict)
    episodes: list[PlannedEpisode]


class RunData(BaseModel):
    """A run folder read back: its manifest and the results of its finished episodes.

    Attributes:
        path: The run folder.
        manifest: Its manifest.
        results: Episode results (``EpisodeResult`` fields), in the manifest's order.
        infra_retries: Episodes whose first try was an infrastructure error (then retried).
    """

    model_config = ConfigDict(extra="forbid")

    path: Path
    manifest: Manifest
    results: list[dict[str, Any]]
    infra_retries: int = 0

    @property
    def missing(self) -> int:
        """Planned episodes without a result file."""
        return len(self.manifest.episodes) - len(self.results)


def package_version() -> str:
    """The installed policywright version ("unknown" when not installed as a distribution)."""
    from importlib import metadata

    try:
        return metadata.version("policywright")
    except metadata.PackageNotFoundError:
        return "unknown"


def atomic_write_text(path: Path, text: str) -> None:
    """Write a file so that readers see the old content or the new, never a part.

    The data is flushed to disk before the rename: a run killed right after counts the
    episode as finished, so its file must be whole.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def episode_id_of(spec: Mapping[str, Any]) -> str:
    """An episode's id from its spec fields (the rule of ``EpisodeSpec.episode_id``)."""
    return f"{spec['task_id']}.{spec['split']}.{int(spec['trial']):03d}"


def episode_key(suite_id: str, spec: Mapping[str, Any]) -> str:
    """The episode's path inside a run folder: ``<suite id>/<episode_id>``."""
    return f"{suite_id}/{episode_id_of(spec)}"


def episode_path(run_dir: Path, key: str, *, infra: bool = False) -> Path:
    """Where an episode's result (or its retried infrastructure error) is stored.

    Args:
        run_dir: The run folder.
        key: ``<suite>/<episode_id>`` (:func:`episode_key`).
        infra: The first try's infrastructure error instead of the result.
    """
    return run_dir / EPISODES / (f"{key}.infra.json" if infra else f"{key}.json")


def artifacts_dir(run_dir: Path, suite: str) -> Path:
    """The folder a suite's episodes write their artifacts into (one subfolder each)."""
    return run_dir / ARTIFACTS / suite


def _too_new_or_old(path: Path, found: object) -> UserError:
    return UserError(
        f"{path} was written by a different policywright run-folder format (version {found!r}; "
        f"this policywright {package_version()} reads version {RUN_FORMAT_VERSION}): start a "
        "fresh run (a new --run-id or another --out folder), or use the policywright version "
        "that created it to resume or report it"
    )


def read_manifest(run_dir: Path) -> Manifest:
    """Read and check a run folder's manifest.

    Raises:
        UserError: not a run folder, an unreadable manifest, or another format version.
    """
    path = run_dir / MANIFEST
    if not path.is_file():
        if not run_dir.is_dir():
            raise UserError(f"no run folder at {run_dir} (it does not exist)")
        raise UserError(
            f"{run_dir} is not an evaluation run folder (no {MANIFEST}); "
            "pass a folder made by `policywright eval SUITE --out DIR`"
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {path}: {exc}; start a fresh run") from exc
    if not isinstance(raw, dict):
        raise UserError(f"{path} is not a run manifest (a JSON object); start a fresh run")
    if raw.get("version") != RUN_FORMAT_VERSION:
        raise _too_new_or_old(path, raw.get("version"))
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        raise UserError(
            f"{path} is not a valid run manifest ({exc.errors()[0]['msg']} at "
            f"{'.'.join(str(p) for p in exc.errors()[0]['loc'])}); "
            "start a fresh run"
        ) from exc


def read_result(path: Path) -> dict[str, Any] | None:
    """An episode result file, or None when it is unreadable (it is then run again).

    Raises:
        UserError: the result was written by another format version.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or "episode_id" not in data:
        return None
    version = data.get("version", 1)
    if version != 1:
        raise _too_new_or_old(path, version)
    return data


def finished(run_dir: Path, keys: list[str]) -> dict[str, dict[str, Any]]:
    """Results of the episodes that need not run again, by episode key.

    An episode is finished when its result file exists and is not an infrastructure error
    (those are tried again by a rerun).
    """
    out: dict[str, dict[str, Any]] = {}
    for key in keys:
        path = episode_path(run_dir, key)
        if path.is_file():
            data = read_result(path)
            if data is not None and data.get("status") != "infra_error":
                out[key] = data
    return out


def load_run(run_dir: str | Path) -> RunData:
    """Read a run folder for a report.

    Raises:
        UserError: not a run folder, or one from another format version.
    """
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    results: list[dict[str, Any]] = []
    retries = 0
    for planned in manifest.episodes:
        key = planned.key
        path = episode_path(run_dir, key)
        data = read_result(path) if path.is_file() else None
        if data is not None:
            results.append(data)
        if episode_path(run_dir, key, infra=True).is_file():
            retries += 1
    return RunData(path=run_dir, manifest=manifest, results=results, infra_retries=retries)
