"""Train ``locomotion/learned-v1``: behaviour cloning of the scripted A1 trot (numpy only).

Data: the scripted trot under random (vx, vy, wz) command segments in a seeded floor world,
with DART-style noise (Gaussian, sigma drawn per segment up to 0.08 rad) added to the *executed*
joint targets while the clean expert targets are the labels, so the data covers the states a
slightly-wrong policy visits. Model: MLP 35 -> 128 -> 128 -> 12 (tanh), trained with Adam on
the mean-squared error of standardised targets. Seeded end to end.

Usage::

    python -m policywright.skills.train_locomotion [--out PATH] [--seed 0] [--sim-seconds 150]
"""

from __future__ import annotations

import argparse
import itertools
import logging
import time
from pathlib import Path

import numpy as np

from policywright.sim._a1 import OBS_DIM
from policywright.sim._floor import PHYSICS_HZ, FloorSpec, FloorWorld
from policywright.skills._mlp import save_mlp

__all__ = ["collect", "fit_mlp", "train"]

logger = logging.getLogger(__name__)

_SEGMENT_S = (0.6, 2.0)
_DART_MAX = 0.08


def collect(sim_seconds: float, seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Roll out the scripted trot with DART noise.

    The open-loop trot has no balance feedback, so the strongest noise sometimes tips it over;
    the robot is then set upright and collection goes on (the tipping states stay in the data,
    labelled with the expert's targets).

    Returns:
        (observations, expert joint targets, number of expert falls).
    """
    rng = np.random.default_rng(seed)
    world = FloorWorld(FloorSpec(robot_yaw_deg=float(rng.uniform(-180, 180))))
    robot = world.robot
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    noise = np.zeros(12)
    falls = 0

    def noisy_driver(_robot: object) -> np.ndarray:
        expert = robot.scripted_targets()
        xs.append(robot.observation())
        ys.append(expert)
        return expert + noise

    robot.driver = noisy_driver
    steps_total = int(sim_seconds * PHYSICS_HZ)
    try:
        while len(xs) < steps_total:
            seg = int(rng.uniform(*_SEGMENT_S) * PHYSICS_HZ)
            kind = rng.uniform()
            if kind < 0.08:
                robot.stand()
                world.step(seg // 2)
                robot.driver = noisy_driver
                continue
            if kind < 0.25:  # slow commands: the wrapper's braking regime
                cmd = rng.uniform([-0.1, -0.05, -0.3], [0.15, 0.05, 0.3])
            else:
                cmd = rng.uniform([-0.2, -0.15, -1.0], [0.45, 0.15, 1.0])
                if rng.uniform() < 0.3:
                    cmd[rng.integers(0, 3)] = 0.0
            sigma = float(rng.uniform(0.0, _DART_MAX))
            robot.set_command(*(float(v) for v in cmd))
            for _ in range(seg // 4):
                noise = rng.normal(0.0, sigma, size=12)
                world.step(4)
                if world.fallen:
                    falls += 1
                    world.safe_stop()
                    robot.driver = noisy_driver
                    break
    finally:
        world.close()
    return np.asarray(xs[:steps_total]), np.asarray(ys[:steps_total]), falls


def fit_mlp(
    x: np.ndarray,
    y: np.ndarray,
    *,
    hidden: tuple[int, ...] = (128, 128),
    epochs: int = 40,
    batch: int = 256,
    lr: float = 2e-3,
    seed: int = 0,
) -> tuple[list[np.ndarray], list[np.ndarray], dict[str, np.ndarray], float]:
    """Adam on standardised inputs/targets; returns weights, biases, scalers, final val MSE."""
    rng = np.random.default_rng(seed)
    x_mean, x_std = x.mean(0), np.maximum(x.std(0), 1e-3)
    y_mean, y_std = y.mean(0), np.maximum(y.std(0), 1e-3)
    xn, yn = (x - x_mean) / x_std, (y - y_mean) / y_std
    perm = rng.permutation(len(xn))
    n_val = len(xn) // 10
    val, tr = perm[:n_val], perm[n_val:]
    sizes = [x.shape[1], *hidden, y.shape[1]]
    ws = [rng.normal(0, np.sqrt(1.0 / a), size=(a, b)) for a, b in itertools.pairwise(sizes)]
    bs = [np.zeros(b) for b in sizes[1:]]
    params = ws + bs
    m = [np.zeros_like(q) for q in params]
    v = [np.zeros_like(q) for q in params]
    t = 0
    b1, b2, eps = 0.9, 0.999, 1e-8

    def forward(xb: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        acts = [xb]
        h = xb
        for i, (w, b) in enumerate(zip(ws, bs, strict=True)):
            h = h @ w + b
            if i < len(ws) - 1:
                h = np.tanh(h)
            acts.append(h)
        return h, acts

    val_mse = float("nan")
    for epoch in range(epochs):
        step_lr = lr * 0.5 * (1 + np.cos(np.pi * epoch / epochs))  # cosine decay
        order = rng.permutation(tr)
        for k in range(0, len(order), batch):
            idx = order[k : k + batch]
            out, acts = forward(xn[idx])
            g = 2.0 * (out - yn[idx]) / out.size
            grads_w: list[np.ndarray] = [np.empty(0)] * len(ws)
            grads_b: list[np.ndarray] = [np.empty(0)] * len(ws)
            for i in range(len(ws) - 1, -1, -1):
                grads_w[i] = acts[i].T @ g
                grads_b[i] = g.sum(0)
                if i > 0:
                    g = (g @ ws[i].T) * (1.0 - acts[i] ** 2)
            t += 1
            for j, (q, dq) in enumerate(zip(params, grads_w + grads_b, strict=True)):
                m[j] = b1 * m[j] + (1 - b1) * dq
                v[j] = b2 * v[j] + (1 - b2) * dq * dq
                mh = m[j] / (1 - b1**t)
                vh = v[j] / (1 - b2**t)
                q -= step_lr * mh / (np.sqrt(vh) + eps)
        pred, _ = forward(xn[val])
        val_mse = float(np.mean((pred - yn[val]) ** 2))
        logger.info("epoch %d: validation MSE (standardised) %.5f", epoch + 1, val_mse)
    scalers = {"x_mean": x_mean, "x_std": x_std, "y_mean": y_mean, "y_std": y_std}
    return ws, bs, scalers, val_mse


def train(out: str | Path, *, seed: int = 0, sim_seconds: float = 150.0, epochs: int = 40) -> Path:
    """Collect data, fit the MLP and write the weights file.

    Args:
        out: Output ``.npz`` path.
        seed: Seeds data collection and training.
        sim_seconds: Simulated seconds of expert data (240 samples per second).
        epochs: Training epochs.

    Returns:
        The weights path.
    """
    t0 = time.perf_counter()
    x, y, falls = collect(sim_seconds, seed)
    t_data = time.perf_counter() - t0
    assert x.shape[1] == OBS_DIM
    logger.info("collected %d samples in %.1f s (%d expert falls)", len(x), t_data, falls)
    t1 = time.perf_counter()
    ws, bs, sc, val_mse = fit_mlp(x, y, epochs=epochs, seed=seed)
    t_fit = time.perf_counter() - t1
    meta = {
        "skill_id": "locomotion/learned-v1",
        "seed": seed,
        "sim_seconds": sim_seconds,
        "samples": len(x),
        "expert_falls": falls,
        "epochs": epochs,
        "val_mse_standardised": val_mse,
        "collect_s": round(t_data, 1),
        "fit_s": round(t_fit, 1),
        "obs": "sin/cos phase, filtered vx vy wz, walking, roll, pitch, ang vel (body), q12, dq12",
    }
    path = save_mlp(out, ws, bs, activation="tanh", meta=meta, **sc)
    logger.info("wrote %s (%.1f s data, %.1f s fit, val MSE %.4f)", path, t_data, t_fit, val_mse)
    return path


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    from policywright.skills._locomotion import WEIGHTS_PATH

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=WEIGHTS_PATH)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sim-seconds", type=float, default=150.0)
    ap.add_argument("--epochs", type=int, default=40)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    t0 = time.perf_counter()
    path = train(args.out, seed=args.seed, sim_seconds=args.sim_seconds, epochs=args.epochs)
    print(
        f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB) in {time.perf_counter() - t0:.1f} s"
    )


if __name__ == "__main__":
    main()
