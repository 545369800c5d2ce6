"""Small numpy MLPs for learned skills, and their weight files (.npz, no pickle).

Learned skills ship weights as package data and run with numpy at inference, so the core
install needs no torch. Training scripts may use torch (extra ``[train]``) but save through
:func:`save_mlp`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from policywright.errors import SkillLoadError

__all__ = ["MLP", "load_npz", "save_mlp"]


def load_npz(path: str | Path, required: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """Load a weights file without pickle; check the arrays it must hold.

    Args:
        path: The ``.npz`` file.
        required: Array names that must be present.

    Returns:
        Name -> array (float arrays are finite).

    Raises:
        SkillLoadError: the file is missing, unreadable, not an npz, lacks an array, or holds
            NaN/inf.
    """
    p = Path(path)
    if not p.is_file():
        raise SkillLoadError(f"weights file {str(p)!r} is missing; run the skill's training script")
    try:
        with np.load(p, allow_pickle=False) as data:
            arrays = {k: np.array(data[k]) for k in data.files}
    except Exception as exc:  # zipfile.BadZipFile, ValueError, OSError: all mean corrupt
        raise SkillLoadError(f"weights file {str(p)!r} is corrupt: {exc}") from exc
    missing = [k for k in required if k not in arrays]
    if missing:
        raise SkillLoadError(f"weights file {str(p)!r} lacks arrays {missing}")
    for k, a in arrays.items():
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            raise SkillLoadError(f"weights file {str(p)!r}: array {k!r} holds NaN or inf")
    return arrays


class MLP:
    """A feed-forward network ``x -> (Linear -> tanh|relu)* -> Linear``, with input/output scaling.

    The npz layout: ``W0, b0, W1, b1, ...`` (``W`` is (in, out)), optional ``x_mean, x_std,
    y_mean, y_std``, and ``activation`` (0-d string array: "relu" or "tanh").
    """

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        """Build from arrays in the layout above."""
        n = 0
        while f"W{n}" in arrays:
            n += 1
        if n == 0:
            raise SkillLoadError("weights hold no layers (W0 missing)")
        self.weights = [arrays[f"W{i}"].astype(np.float64) for i in range(n)]
        self.biases = [arrays[f"b{i}"].astype(np.float64) for i in range(n)]
        for i in range(1, n):
            if self.weights[i].shape[0] != self.weights[i - 1].shape[1]:
                raise SkillLoadError(f"layer {i} does not fit layer {i - 1}")
        self.in_dim = int(self.weights[0].shape[0])
        self.out_dim = int(self.weights[-1].shape[1])
        self.x_mean = arrays.get("x_mean", np.zeros(self.in_dim))
        self.x_std = arrays.get("x_std", np.ones(self.in_dim))
        self.y_mean = arrays.get("y_mean", np.zeros(self.out_dim))
        self.y_std = arrays.get("y_std", np.ones(self.out_dim))
        act = str(arrays["activation"]) if "activation" in arrays else "relu"
        if act not in ("relu", "tanh"):
            raise SkillLoadError(f"unknown activation {act!r}")
        self.activation = act

    @classmethod
    def from_npz(cls, path: str | Path) -> MLP:
        """Load from an ``.npz`` file (see :func:`load_npz` for the errors)."""
        return cls(load_npz(path, required=("W0", "b0")))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Evaluate on one input vector or a batch (rows)."""
        h = (np.asarray(x, dtype=np.float64) - self.x_mean) / self.x_std
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ w + b
            if i < len(self.weights) - 1:
                h = np.tanh(h) if self.activation == "tanh" else np.maximum(h, 0.0)
        out: np.ndarray = h * self.y_std + self.y_mean
        return out


def save_mlp(
    path: str | Path,
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray],
    *,
    activation: str = "relu",
    x_mean: np.ndarray | None = None,
    x_std: np.ndarray | None = None,
    y_mean: np.ndarray | None = None,
    y_std: np.ndarray | None = None,
    meta: dict[str, object] | None = None,
) -> Path:
    """Write an MLP's weights as float32 ``.npz`` (with an optional JSON ``meta`` string).

    Returns:
        The path written.
    """
    arrays: dict[str, np.ndarray] = {}
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        arrays[f"W{i}"] = np.asarray(w, dtype=np.float32)
        arrays[f"b{i}"] = np.asarray(b, dtype=np.float32)
    for key, val in (("x_mean", x_mean), ("x_std", x_std), ("y_mean", y_mean), ("y_std", y_std)):
        if val is not None:
            arrays[key] = np.asarray(val, dtype=np.float32)
    arrays["activation"] = np.array(activation)
    if meta is not None:
        arrays["meta"] = np.array(json.dumps(meta, sort_keys=True))
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(p, **arrays)  # type: ignore[arg-type]
    return p
