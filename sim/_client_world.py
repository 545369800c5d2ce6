"""What every world shares: one private PyBullet client, its lifetime and its snapshots."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

import pybullet as p
from pydantic import BaseModel

from policywright.sim._perception import DetectedObject

__all__ = ["ClientWorld"]

logger = logging.getLogger(__name__)

SpecT = TypeVar("SpecT", bound=BaseModel)


class ClientWorld(Generic[SpecT]):
    """The client lifetime and the state files the tabletop, floor and mobile worlds share.

    Subclasses set ``self._c`` (the client), ``self._closed = False``, ``self.spec`` (their
    scene model), ``self._steps`` and ``self._last_detect`` when they build, and say what their
    controllers hold beyond physics with :meth:`_controller_state` /
    :meth:`_load_controller_state`.
    """

    kind: str
    spec: SpecT
    #: Polled by the skills at every control step: True stops the motion where it is (a
    #: person said "stop"). The engine sets it while a program runs.
    stop_check: Callable[[], bool] | None = None
    #: Motion speed factor from "slower"/"faster" (0.25..1.0; skills take 1/scale times
    #: longer in sim time per control step, never faster than the skills' own speeds).
    motion_scale: float = 1.0
    _c: Any
    _closed: bool
    _steps: int
    _last_detect: dict[str, DetectedObject]

    @property
    def client(self) -> Any:
        """The private PyBullet client (for sim-internal code; programs never see it)."""
        return self._c

    # -- state -----------------------------------------------------------------------------------
    def _controller_state(self) -> dict[str, Any]:
        """Controller state a physics snapshot does not hold (targets, gait phase, commands)."""
        raise NotImplementedError

    def _load_controller_state(self, sidecar: dict[str, Any]) -> None:
        """Restore what :meth:`_controller_state` wrote (read from the sidecar's top level)."""
        raise NotImplementedError

    def save_state(self, path: str | Path) -> Path:
        """Save the full world state: ``path`` (bullet file) plus ``path.json`` (sidecar).

        The sidecar holds the world kind, the spec, the step count, the last detections and
        the controller state, none of which the physics snapshot includes.

        Returns:
            The bullet file path.
        """
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        self._c.saveBullet(str(out))
        sidecar = {
            "version": 1,
            "kind": self.kind,
            "spec": self.spec.model_dump(mode="json"),
            "steps": self._steps,
            "last_detect": {k: v.model_dump(mode="json") for k, v in self._last_detect.items()},
            **self._controller_state(),
        }
        Path(f"{out}.json").write_text(json.dumps(sidecar, indent=1), encoding="utf-8")
        return out

    def restore_state(self, path: str | Path) -> None:
        """Restore a state saved by :meth:`save_state` into a world built from the same spec.

        Raises:
            FileNotFoundError: The state files are missing.
            ValueError: The state was saved from another kind of world or a different scene.
        """
        src = Path(path)
        sidecar = json.loads(Path(f"{src}.json").read_text(encoding="utf-8"))
        # Snapshots written before the kind was recorded are tabletop ones.
        if sidecar.get("kind", "tabletop") != self.kind:
            raise ValueError(f"the saved state is not a {self.kind} world's")
        if type(self.spec).model_validate(sidecar["spec"]) != self.spec:
            raise ValueError(
                "the saved state belongs to a different scene; rebuild the world first"
            )
        if not src.exists():
            raise FileNotFoundError(src)
        self._c.restoreState(fileName=str(src))
        self._steps = int(sidecar["steps"])
        self._load_controller_state(sidecar)
        self._last_detect = {
            k: DetectedObject.model_validate(v) for k, v in sidecar["last_detect"].items()
        }

    # -- lifetime --------------------------------------------------------------------------------
    def close(self) -> None:
        """Disconnect the PyBullet client (idempotent)."""
        if not self._closed:
            self._closed = True
            try:
                self._c.disconnect()
            except p.error:  # already gone
                logger.debug("pybullet client already disconnected")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
