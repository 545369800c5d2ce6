"""Train ``grasp/learned-v1``: self-supervised grasp trials in the sim, then a numpy MLP.

Run ``python -m policywright.skills.train_grasp`` (options: ``--help``). It

1. builds one-object worlds: blocks and *training* shapes (``random_urdfs`` indices not
   ``% 10 == 0``; the held-out evaluation shapes are never used), one render each;
2. tries several random top-down grasp candidates per object, rebuilding the one-object world
   (same spec) between them; the label is "lifted, shaken and still held" (ground truth,
   labels only);
3. fits an MLP (features -> logit, numpy, Adam, weighted logistic loss) and writes float32
   weights to ``skills/weights/grasp_learned_v1.npz``.

Everything is seeded. No torch is needed. ``--evaluate 50`` then measures both grasp variants
with :func:`~policywright.skills._grasp_learned.evaluate_grasp`; ``--eval-only both`` measures
the shipped weights without training.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import math
import time
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict

from policywright.sim import TABLE_Z, SceneSpec, TabletopWorld
from policywright.sim._shapes import train_shapes
from policywright.skills._base import run_skill
from policywright.skills._grasp_learned import (
    MIN_GRASP_Z,
    N_FEATURES,
    WEIGHTS_PATH,
    evaluate_grasp,
    grasp_features,
    grasp_trial,
    trial_scene,
)
from policywright.skills._mlp import save_mlp
from policywright.skills._scripted import GRASP_DEPTH, PickGoal, PickSkill

__all__ = ["TrainConfig", "collect", "fit", "train"]

logger = logging.getLogger(__name__)


class TrainConfig(BaseModel):
    """Data generation and training settings.

    Attributes:
        seed: Seeds objects, candidates and the network's initialisation.
        n_shapes: Training shapes to try (drawn from the training split).
        n_blocks: Blocks to try.
        per_object: Grasp candidates tried per object (the world is rebuilt between them).
        hidden: Hidden layer widths.
        epochs: Mini-batch (64) epochs of Adam.
        lr: Adam step size.
        weight_decay: L2 penalty.
    """

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    n_shapes: int = 200
    n_blocks: int = 40
    per_object: int = 5
    hidden: tuple[int, ...] = (64, 64)
    epochs: int = 300
    lr: float = 2e-3
    weight_decay: float = 1e-4


def _sample_candidate(rng: np.random.Generator, pts: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """A random grasp near the object: half close to the centre, half anywhere within 3 cm."""
    r = 0.012 if rng.random() < 0.5 else 0.03
    ang = rng.uniform(0, 2 * math.pi)
    rad = r * math.sqrt(rng.random())
    top = float(pts[:, 2].max())
    z = max(top - rng.uniform(0.01, 0.04), TABLE_Z + MIN_GRASP_Z)
    return np.array(
        [
            centre[0] + rad * math.cos(ang),
            centre[1] + rad * math.sin(ang),
            rng.uniform(0, math.pi),
            z,
        ]
    )


def collect(cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run the self-supervised grasp trials.

    Returns:
        Features (N, N_FEATURES), labels (N,) in {0, 1}, object kind (N,) 1 = shape.
    """
    rng = np.random.default_rng(cfg.seed)
    pool = train_shapes()
    order = rng.permutation(len(pool))[: cfg.n_shapes]
    jobs: list[int | None] = [pool[int(i)] for i in order] + [None] * cfg.n_blocks
    xs: list[np.ndarray] = []
    ys: list[float] = []
    kinds: list[float] = []
    world = TabletopWorld(SceneSpec(objects=[]))
    try:
        for n, index in enumerate(jobs):
            spec = trial_scene(rng, "block" if index is None else "shape", index)
            world.reset(spec)
            name = spec.objects[0].name
            pts = world.object_points(name)
            if pts.shape[0] < 5:
                continue
            centre = np.array([pts[:, 0].mean(), pts[:, 1].mean()])
            for k in range(cfg.per_object):
                if k:
                    # A rebuild, not restore_state: after a restore the next grasp of the
                    # very same pose failed (measured), which would poison the labels.
                    world.reset(spec)
                c = _sample_candidate(rng, pts, centre)
                goal = PickGoal((float(c[0]), float(c[1]), float(c[3]) + GRASP_DEPTH), c[2])
                out = grasp_trial(world, name, lambda w, g=goal: run_skill(PickSkill(), w, g))
                xs.append(grasp_features(pts, c[None, :])[0])
                ys.append(float(out.success))
                kinds.append(0.0 if index is None else 1.0)
            if (n + 1) % 20 == 0:
                print(
                    f"  {n + 1}/{len(jobs)} objects, {len(ys)} trials, "
                    f"{np.mean(ys):.2f} success so far",
                    flush=True,
                )
    finally:
        world.close()
    return np.asarray(xs), np.asarray(ys), np.asarray(kinds)


def fit(
    x: np.ndarray, y: np.ndarray, cfg: TrainConfig
) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray, np.ndarray, dict[str, float]]:
    """Fit a ReLU MLP to predict the success logit (numpy, Adam, class-balanced).

    Returns:
        Weights, biases, input mean and std, and metrics (train/validation accuracy and loss).
    """
    rng = np.random.default_rng(cfg.seed + 1)
    n = x.shape[0]
    perm = rng.permutation(n)
    n_val = max(1, n // 5)
    val, tr = perm[:n_val], perm[n_val:]
    mean = x[tr].mean(axis=0)
    std = x[tr].std(axis=0) + 1e-6
    xn = (x - mean) / std
    sizes = [x.shape[1], *cfg.hidden, 1]
    ws = [rng.normal(0, math.sqrt(2.0 / a), (a, b)) for a, b in itertools.pairwise(sizes)]
    bs = [np.zeros(b) for b in sizes[1:]]
    params = [*ws, *bs]
    m1 = [np.zeros_like(p) for p in params]
    m2 = [np.zeros_like(p) for p in params]
    pos = float(y[tr].mean())
    # Balance the classes so that neither "always fail" nor "always succeed" is cheap.
    cw = np.where(y > 0.5, 0.5 / max(pos, 1e-3), 0.5 / max(1 - pos, 1e-3))

    def forward(xb: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        acts = [xb]
        h = xb
        for i, (w, b) in enumerate(zip(ws, bs, strict=True)):
            h = h @ w + b
            if i < len(ws) - 1:
                h = np.maximum(h, 0.0)
            acts.append(h)
        return h[:, 0], acts

    def loss_of(idx: np.ndarray) -> tuple[float, float]:
        logit, _ = forward(xn[idx])
        p = 1 / (1 + np.exp(-np.clip(logit, -30, 30)))
        ll = -(y[idx] * np.log(p + 1e-9) + (1 - y[idx]) * np.log(1 - p + 1e-9))
        return float(np.mean(ll)), float(np.mean((p > 0.5) == (y[idx] > 0.5)))

    step = 0
    batch = 64
    best = (math.inf, [p.copy() for p in params])
    for _epoch in range(cfg.epochs):
        order = rng.permutation(tr)
        for s in range(0, len(order), batch):
            idx = order[s : s + batch]
            logit, acts = forward(xn[idx])
            p = 1 / (1 + np.exp(-np.clip(logit, -30, 30)))
            g = ((p - y[idx]) * cw[idx] / len(idx))[:, None]
            grads_w: list[np.ndarray] = [np.zeros(0)] * len(ws)
            grads_b: list[np.ndarray] = [np.zeros(0)] * len(ws)
            for i in range(len(ws) - 1, -1, -1):
                grads_w[i] = acts[i].T @ g + cfg.weight_decay * ws[i]
                grads_b[i] = g.sum(axis=0)
                if i:
                    g = (g @ ws[i].T) * (acts[i] > 0)
            step += 1
            for j, (prm, grd) in enumerate(zip(params, [*grads_w, *grads_b], strict=True)):
                m1[j] = 0.9 * m1[j] + 0.1 * grd
                m2[j] = 0.999 * m2[j] + 0.001 * grd * grd
                mh = m1[j] / (1 - 0.9**step)
                vh = m2[j] / (1 - 0.999**step)
                prm -= cfg.lr * mh / (np.sqrt(vh) + 1e-8)
        val_loss, _ = loss_of(val)
        if val_loss < best[0]:
            best = (val_loss, [p.copy() for p in params])
    # Keep the parameters of the epoch with the lowest validation loss (early stopping).
    for prm, saved in zip(params, best[1], strict=True):
        prm[...] = saved
    tr_loss, tr_acc = loss_of(tr)
    val_loss, val_acc = loss_of(val)
    metrics = {
        "train_loss": tr_loss,
        "train_acc": tr_acc,
        "val_loss": val_loss,
        "val_acc": val_acc,
        "n_train": float(len(tr)),
        "n_val": float(len(val)),
    }
    return ws, bs, mean, std, metrics


def train(cfg: TrainConfig, out: Path = WEIGHTS_PATH, data_out: Path | None = None) -> Path:
    """Collect trials, fit the model and write the weights.

    Args:
        cfg: The settings.
        out: The weights file to write.
        data_out: Also keep the trials (features, labels, kinds) in this ``.npz``.

    Returns:
        The weights file.
    """
    t0 = time.perf_counter()
    x, y, kinds = collect(cfg)
    t_data = time.perf_counter() - t0
    if data_out is not None:
        np.savez_compressed(data_out, x=x, y=y, kinds=kinds)
    print(
        f"collected {len(y)} trials in {t_data:.0f} s: success {y.mean():.2f} "
        f"(shapes {y[kinds > 0].mean():.2f}, blocks {y[kinds == 0].mean():.2f})",
        flush=True,
    )
    t1 = time.perf_counter()
    ws, bs, mean, std, metrics = fit(x, y, cfg)
    t_fit = time.perf_counter() - t1
    print(
        f"fitted {N_FEATURES}->{'->'.join(map(str, cfg.hidden))}->1 in {t_fit:.0f} s: "
        + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()),
        flush=True,
    )
    meta = {
        "skill": "grasp/learned-v1",
        "config": cfg.model_dump(mode="json"),
        "trials": len(y),
        "success_rate": float(y.mean()),
        "data_seconds": round(t_data, 1),
        "fit_seconds": round(t_fit, 1),
        "split": "train on random_urdfs i % 10 != 0; held out i % 10 == 0",
        **{k: round(v, 4) for k, v in metrics.items()},
    }
    path = save_mlp(out, ws, bs, activation="relu", x_mean=mean, x_std=std, meta=meta)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)", flush=True)
    return path


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shapes", type=int, default=TrainConfig().n_shapes)
    parser.add_argument("--blocks", type=int, default=TrainConfig().n_blocks)
    parser.add_argument("--per-object", type=int, default=TrainConfig().per_object)
    parser.add_argument("--out", type=Path, default=WEIGHTS_PATH)
    parser.add_argument("--save-data", type=Path, default=None, help="keep the trials (.npz)")
    parser.add_argument(
        "--evaluate",
        type=int,
        default=0,
        metavar="TRIALS",
        help="afterwards, evaluate scripted and learned on TRIALS held-out shapes and blocks",
    )
    parser.add_argument("--eval-seed", type=int, default=0)
    parser.add_argument(
        "--eval-only",
        choices=("both", "grasp/scripted-v1", "grasp/learned-v1"),
        help="skip training; evaluate the shipped weights",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.eval_only is None:
        cfg = TrainConfig(
            seed=args.seed, n_shapes=args.shapes, n_blocks=args.blocks, per_object=args.per_object
        )
        t0 = time.perf_counter()
        train(cfg, args.out, args.save_data)
        print(f"total {time.perf_counter() - t0:.0f} s", flush=True)
    trials = args.evaluate or (50 if args.eval_only else 0)
    if trials:
        which = args.eval_only or "both"
        ids = ["grasp/scripted-v1", "grasp/learned-v1"] if which == "both" else [which]
        for skill_id in ids:
            t1 = time.perf_counter()
            rep = evaluate_grasp(skill_id, trials, args.eval_seed)
            d = rep.details
            print(
                f"{skill_id}: held-out shapes {d['shapes_successes']}/{trials}, "
                f"blocks {d['blocks_successes']}/{trials} (seed {args.eval_seed}); "
                f"{rep.sim_time_s:.2f} s sim per trial; {time.perf_counter() - t1:.0f} s wall",
                flush=True,
            )
            print(json.dumps(rep.model_dump(mode="json"), indent=1), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
