"""Train ``path/learned-v1`` by behaviour cloning of the carrot controller (numpy only).

Data: seeded random smooth paths in the workspace (coarse strokes, Chaikin-smoothed, resampled
at 5 mm, travel height 3-20 cm, half with takeoff/landing ramps), speeds 0.05-0.8 m/s
log-uniform. The expert (:meth:`PathTracker.expert_step`, the reference carrot) labels every
visited setpoint; the executed setpoint gets DART-style Gaussian noise, so the data covers the
off-path states the clone will drift into and teaches it to return. No physics is needed: the
policy's input is the setpoint and the path, not the measured arm state (see
``_path_learned``). The closed-loop tracking error is measured in the simulator afterwards
(``--eval``).

Usage::

    python -m policywright.skills.train_path [--seed 0] [--paths 2500] [--epochs 40]
        [--out skills/weights/path_learned_v1.npz] [--eval 20] [--no-train]
"""

from __future__ import annotations

import argparse
import itertools
import logging
import math
import time
from pathlib import Path
from typing import Final

import numpy as np

from policywright.sim import TABLE_Z
from policywright.skills._base import CONTROL_HZ
from policywright.skills._mlp import MLP, save_mlp
from policywright.skills._path import PathTracker, build_path_3d, step_limit
from policywright.skills._path_learned import WEIGHTS_PATH, random_coarse_xy

__all__ = ["collect", "train"]

logger = logging.getLogger(__name__)

_DT: Final[float] = 1.0 / CONTROL_HZ
_HIDDEN: Final[tuple[int, ...]] = (64, 64)


def _random_path(rng: np.random.Generator) -> np.ndarray:
    xy = random_coarse_xy(rng)
    ramp = float(rng.uniform(0.02, 0.08)) if rng.uniform() < 0.5 else 0.0
    return build_path_3d(
        xy, TABLE_Z + float(rng.uniform(0.03, 0.2)), ramp_height=ramp, smooth=3, spacing=0.005
    )


def collect(n_paths: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Roll out the expert with DART noise on seeded random paths.

    Returns:
        (features (N, 32), labels (N, 3)): labels are the expert's setpoint delta in the path
        frame, in units of ``speed * dt``.
    """
    rng = np.random.default_rng(seed)
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    for _ in range(n_paths):
        tr = PathTracker(_random_path(rng))
        speed = float(math.exp(rng.uniform(math.log(0.05), math.log(0.8))))
        step = speed * _DT
        # Noise scale per episode: from none (pure reference states) to a fraction of a step
        # plus up to 1 mm, i.e. larger than the clone's own errors.
        sigma = float(rng.uniform(0.0, 0.6)) * step + float(rng.uniform(0.0, 0.001))
        c = tr.at(0.0) + rng.normal(0.0, 0.002, 3) * float(rng.uniform() < 0.3)
        s = tr.project(c, 0.0)
        limit = step_limit(speed, _DT)
        for _ in range(int(3 * tr.length / step) + 10):
            if tr.length - s <= step and np.linalg.norm(tr.points[-1] - c) <= limit:
                break
            xs.append(tr.features(c, s, speed, _DT))
            delta = tr.expert_step(c, s, speed, _DT)
            ys.append(tr.frame(s) @ delta / step)
            c = c + delta + rng.normal(0.0, sigma, 3)
            s = tr.project(c, s)
    return np.asarray(xs), np.asarray(ys)


def _fit(
    x: np.ndarray, y: np.ndarray, seed: int, epochs: int, batch: int = 512, lr: float = 2e-3
) -> tuple[list[np.ndarray], list[np.ndarray], dict[str, np.ndarray], float]:
    """Adam on MSE of standardised targets; tanh MLP. Returns weights, biases, scaling, loss."""
    rng = np.random.default_rng(seed)
    x_mean, x_std = x.mean(0), x.std(0) + 1e-6
    y_mean, y_std = y.mean(0), y.std(0) + 1e-6
    xn, yn = (x - x_mean) / x_std, (y - y_mean) / y_std
    sizes = [x.shape[1], *_HIDDEN, y.shape[1]]
    ws = [rng.normal(0, 1 / math.sqrt(a), (a, b)) for a, b in itertools.pairwise(sizes)]
    bs = [np.zeros(b) for b in sizes[1:]]
    params = [*ws, *bs]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    b1, b2, t = 0.9, 0.999, 0
    n = len(xn)
    loss = float("nan")
    for epoch in range(epochs):
        # Cosine learning-rate decay to 5% over the run.
        lr_e = lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * epoch / epochs)))
        perm = rng.permutation(n)
        total = 0.0
        for i in range(0, n, batch):
            idx = perm[i : i + batch]
            hs = [xn[idx]]
            for li in range(len(ws)):
                z = hs[-1] @ ws[li] + bs[li]
                hs.append(np.tanh(z) if li < len(ws) - 1 else z)
            err = hs[-1] - yn[idx]
            total += float(np.sum(err * err))
            g = 2 * err / len(idx)
            gws: list[np.ndarray] = [np.empty(0)] * len(ws)
            gbs: list[np.ndarray] = [np.empty(0)] * len(ws)
            for li in range(len(ws) - 1, -1, -1):
                gws[li] = hs[li].T @ g
                gbs[li] = g.sum(0)
                if li > 0:
                    g = (g @ ws[li].T) * (1 - hs[li] ** 2)
            t += 1
            for k, gk in enumerate([*gws, *gbs]):
                m[k] = b1 * m[k] + (1 - b1) * gk
                v[k] = b2 * v[k] + (1 - b2) * gk * gk
                mh = m[k] / (1 - b1**t)
                vh = v[k] / (1 - b2**t)
                params[k] -= lr_e * mh / (np.sqrt(vh) + 1e-8)
        loss = total / (n * y.shape[1])
        logger.info("epoch %d/%d  loss %.5f (standardised MSE)", epoch + 1, epochs, loss)
    scaling = {"x_mean": x_mean, "x_std": x_std, "y_mean": y_mean, "y_std": y_std}
    return params[: len(ws)], params[len(ws) :], scaling, loss


def train(
    out_dir: str | Path | None = None,
    seed: int = 0,
    *,
    n_paths: int = 2500,
    epochs: int = 40,
    out: str | Path | None = None,
) -> Path:
    """Collect data, fit the MLP and write the weights (float32 ``.npz``).

    Args:
        out_dir: Directory for ``path_learned_v1.npz`` (ignored when ``out`` is given);
            default: the package's ``weights/``.
        seed: Seeds the paths, the noise and the initialisation.
        n_paths: Number of random paths.
        epochs: Training epochs.
        out: Exact output file.

    Returns:
        The weights file written.
    """
    if out is not None:
        path = Path(out)
    elif out_dir is not None:
        path = Path(out_dir) / WEIGHTS_PATH.name
    else:
        path = WEIGHTS_PATH
    t0 = time.perf_counter()
    x, y = collect(n_paths, seed)
    t1 = time.perf_counter()
    logger.info("collected %d samples from %d paths in %.1f s", len(x), n_paths, t1 - t0)
    # Hold out 5% to report generalisation of the fit itself.
    rng = np.random.default_rng(seed + 1)
    perm = rng.permutation(len(x))
    n_val = len(x) // 20
    val, tr = perm[:n_val], perm[n_val:]
    ws, bs, scaling, loss = _fit(x[tr], y[tr], seed, epochs)
    arrays: dict[str, np.ndarray] = {f"W{i}": w for i, w in enumerate(ws)}
    arrays.update({f"b{i}": b for i, b in enumerate(bs)})
    arrays.update(scaling)
    arrays["activation"] = np.array("tanh")
    val_err = MLP(arrays)(x[val]) - y[val]
    val_rmse = float(np.sqrt(np.mean(val_err**2)))
    t2 = time.perf_counter()
    meta = {
        "skill": "path/learned-v1",
        "seed": seed,
        "n_paths": n_paths,
        "n_samples": len(x),
        "epochs": epochs,
        "hidden": list(_HIDDEN),
        "train_loss_std_mse": loss,
        "val_rmse_step_units": val_rmse,
        "collect_s": round(t1 - t0, 1),
        "fit_s": round(t2 - t1, 1),
    }
    save_mlp(path, ws, bs, activation="tanh", meta=meta, **scaling)
    logger.info("wrote %s: %s", path, meta)
    return path


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: train, write the weights, optionally evaluate in the simulator."""
    ap = argparse.ArgumentParser(prog="python -m policywright.skills.train_path")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--paths", type=int, default=2500)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--out", type=Path, default=WEIGHTS_PATH)
    ap.add_argument("--eval", type=int, default=0, help="sim trials per variant and speed after")
    ap.add_argument("--no-train", action="store_true", help="only evaluate the weights at --out")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    path = Path(args.out)
    if not args.no_train:
        path = train(seed=args.seed, n_paths=args.paths, epochs=args.epochs, out=args.out)
    print(f"weights: {path} ({path.stat().st_size / 1024:.0f} KiB)")
    if args.eval:
        from policywright.skills._path_learned import evaluate_path

        for speed in (0.2, 0.5):
            for sid in ("path/scripted-v1", "path/learned-v1"):
                r = evaluate_path(sid, args.eval, 1000, speed=speed, weights=path)
                print(
                    f"{sid:18s} speed {speed:.1f}: mean {r.precision or float('nan'):.2f} mm, "
                    f"max {r.details['max_error_mm'] or float('nan'):.2f} mm, "
                    f"success {r.successes}/{r.trials}, "
                    f"completion {r.details['completion_rate']:.2f}, sim {r.sim_time_s:.2f} s"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
