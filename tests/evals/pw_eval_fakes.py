"""Fake episode functions for the runner tests (imported by spawned workers and Ray actors).

The behaviour is chosen by the task id: "ok-..." succeeds on even seeds, "crash-once" exits
the worker the first time (os._exit), "kill-once" SIGKILLs it, "hang-once" sleeps past any
timeout, "crash-always" exits every time, "infra-once" returns an infra_error result once.
"Once" is remembered by a marker file in the output folder, so the retry (a fresh process)
behaves.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from policywright.evals._episodes import EpisodeResult, EpisodeSpec


def result_for(spec: EpisodeSpec, *, status: str = "", reason: str = "", **extra: Any) -> str:
    success = spec.seed % 2 == 0
    status = status or ("succeeded" if success else "failed")
    return EpisodeResult(
        episode_id=spec.episode_id,
        suite=spec.suite,
        task_id=spec.task_id,
        family="fake",
        split=spec.split,
        trial=spec.trial,
        seed=spec.seed,
        command=f"fake {spec.task_id}",
        success=success and status == "succeeded",
        status=status,  # type: ignore[arg-type]
        failure_category=None
        if status == "succeeded"
        else ("infra" if status == "infra_error" else "verification_failure"),
        engine_status="succeeded" if success else "failed",
        reason=reason,
        attempts=1,
        tokens_in=10 * spec.trial,
        tokens_cached=0,
        tokens_out=5,
        cost_usd=0.0,
        latency_first_motion_s=0.1,
        wall_s=0.01,
        sim_s=1.5,
        artifacts={"programs": "programs.json"},
        **extra,
    ).model_dump_json()


def _first_time(out_dir: str, spec: EpisodeSpec) -> bool:
    marker = Path(out_dir) / f"{spec.episode_id}.marker"
    if marker.exists():
        return False
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(str(os.getpid()))
    return True


def fake_episode(spec_json: str, out_dir: str, *, sandbox: object | None = None) -> str:
    spec = EpisodeSpec.model_validate_json(spec_json)
    kind = spec.task_id
    if kind == "crash-once" and _first_time(out_dir, spec):
        os._exit(3)
    if kind == "kill-once" and _first_time(out_dir, spec):
        os.kill(os.getpid(), signal.SIGKILL)
    if kind == "hang-once" and _first_time(out_dir, spec):
        time.sleep(3600)
    if kind == "crash-always":
        os._exit(4)
    if kind == "infra-once" and _first_time(out_dir, spec):
        return result_for(spec, status="infra_error", reason="simulated infrastructure error")
    if kind == "raise-once" and _first_time(out_dir, spec):
        raise RuntimeError("the episode function raised")
    ep_dir = Path(out_dir) / spec.episode_id
    ep_dir.mkdir(parents=True, exist_ok=True)
    (ep_dir / "programs.json").write_text(json.dumps([{"code": "pass"}]))
    zygote = getattr(sandbox, "zygote_pid", None)
    return result_for(spec, reason=json.dumps({"pid": os.getpid(), "zygote": zygote}))


def make_run_folder(
    parent: Path,
    run_id: str,
    *,
    splits: list[str],
    trials: int,
    success: Any,
    missing: int = 0,
    seed: int = 0,
) -> Path:
    """A cap-tabletop run folder with a real manifest and made-up results (no simulation).

    ``success(task_id, split, trial) -> bool``; the last ``missing`` episodes get no result.
    """
    from policywright.evals._rundir import atomic_write_text, episode_path
    from policywright.evals._runner import RunOptions, open_run

    opts = RunOptions(suites=["cap-tabletop"], splits=splits, trials=trials, seed=seed)
    run_dir, manifest = open_run(opts, parent, run_id)
    todo = manifest.episodes[: len(manifest.episodes) - missing]
    for i, e in enumerate(todo):
        spec = EpisodeSpec.model_validate(e.spec)
        ok = bool(success(spec.task_id, spec.split, spec.trial))
        category = (
            None if ok else ("planner_refused", "runtime_error", "verification_failure")[i % 3]
        )
        result = EpisodeResult(
            episode_id=spec.episode_id,
            suite=e.suite_id,
            task_id=spec.task_id,
            family=e.family,
            split=spec.split,
            trial=spec.trial,
            seed=spec.seed,
            command=f"do {spec.task_id}",
            success=ok,
            status="succeeded" if ok else "failed",
            failure_category=category,  # type: ignore[arg-type]
            engine_status="succeeded" if ok else "failed",
            reason="",
            attempts=1 + i % 2,
            tokens_in=1000 + 10 * i,
            tokens_cached=200,
            tokens_out=150 + i,
            cost_usd=0.002,
            latency_first_motion_s=0.4 + 0.01 * i,
            wall_s=1.0 + 0.1 * i,
            sim_s=6.0 + i % 5,
        )
        atomic_write_text(episode_path(run_dir, e.key), result.model_dump_json())
    return run_dir
