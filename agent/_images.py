"""PNG encoding of rendered frames (frames go to disk and into prompts, never into state)."""

from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["png_b64", "png_bytes", "save_png"]


def png_bytes(rgb: np.ndarray) -> bytes:
    """Encode an (H, W, 3) uint8 image as PNG."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def png_b64(rgb: np.ndarray) -> str:
    """Encode an image as base64 PNG (the form both chat providers accept)."""
    return base64.b64encode(png_bytes(rgb)).decode("ascii")


def save_png(rgb: np.ndarray, folder: Path, stem: str) -> Path:
    """Write ``<folder>/<stem>-<hash8>.png`` (content-addressed, so reruns do not collide)."""
    data = png_bytes(rgb)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}-{hashlib.sha256(data).hexdigest()[:8]}.png"
    path.write_bytes(data)
    return path
