"""One evaluation episode: sample, build the world, run the engine, judge by ground truth.

Strings in and out (:func:`run_episode` takes and returns JSON) so that process pools and Ray
workers never unpickle anything. Each episode gets a fresh world from its seed and a fresh
state folder (fresh program memory: episodes never learn from each other).
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import time
import traceback
import zlib
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from policywright.errors import ConfigError, UnknownNameError
from policywright.evals._checkers import (
    CheckInput,
    CheckResult,
    check,
    landmark_visits,
    true_positions,
)
from policywright.evals._sampling import SampledEpisode, sample_episode
from policywright.evals._schema import Suite, TaskSpec, load_suite, suite_ids

__all__ = [
    "FAILURE_CATEGORIES",
    "EpisodeResult",
    "EpisodeSpec",
    "category_of",
    "episode_seed",
    "plan_episodes",
    "run_episode",
]

logger = logging.getLogger(__name__)

FailureCategory = Literal[
    "static_refusal",
    "runtime_error",
    "safety_refusal",
    "verification_failure",
    "false_success",
    "timeout",
    "planner_refused",
    "bad_reply",
    "model_error",
    "infra",
]
FAILURE_CATEGORIES: tuple[str, ...] = get_args(FailureCategory)
_FRAME_SIZE = (320, 240)


class EpisodeSpec(BaseModel):
    """What to run: one trial of one task in one split, and how to plan it.

    Attributes:
        suite: A shipped suite id or a suite YAML path.
        task_id: The task.
        split: The split ("SA-SI", "default", ...).
        trial: The trial index within the (task, split) cell.
        seed: The episode seed (scene, slots and the engine's program seed).
        planner: The planner without a model ("offline").
        llm: A chat model spec; when set the LLM planner plans.
        llm_settings: ``EngineConfig.llm_settings`` (timeouts, cache, prices).
        verify: "code", "vlm" or "both".
        skills: Skill family -> variant id (``EngineConfig.skills``).
        gif: Record a GIF of the episode.
        rehearse: Rehearse programs in a twin before the real run (``EngineConfig.rehearse``).
        candidates: ``EngineConfig.candidates``.
        rehearsal_budget: ``EngineConfig.rehearsal_budget`` (None = the default).
    """

    model_config = ConfigDict(extra="forbid")

    suite: str
    task_id: str
    split: str
    trial: int = Field(ge=0)
    seed: int = Field(ge=0)
    planner: str = "offline"
    llm: str | None = None
    llm_settings: dict[str, Any] = Field(default_factory=dict)
    verify: str = "code"
    skills: dict[str, str] = Field(default_factory=dict)
    gif: bool = False
    rehearse: bool = True
    candidates: int | None = None
    rehearsal_budget: int | None = None

    @property
    def episode_id(self) -> str:
        """``<task>.<split>.<trial:03d>``: unique in a run and safe as a file name."""
        return f"{self.task_id}.{self.split}.{self.trial:03d}"


class EpisodeResult(BaseModel):
    """What happened in one episode (a line of the run's results)."""

    model_config = ConfigDict(extra="forbid")

    episode_id: str
    suite: str
    task_id: str
    family: str
    split: str
    trial: int
    seed: int
    command: str
    success: bool
    status: Literal["succeeded", "failed", "infra_error"]
    failure_category: FailureCategory | None
    engine_status: str
    reason: str
    attempts: int
    corrections: int = 0
    repeat_success: bool | None = None
    recovered: bool | None = None
    #: Recovery suite: the engine noticed something went wrong (a failed verdict or attempt).
    noticed: bool | None = None
    tokens_in: int
    tokens_cached: int
    tokens_out: int
    cost_usd: float
    latency_first_motion_s: float | None
    wall_s: float
    sim_s: float
    artifacts: dict[str, str] = Field(default_factory=dict)
    error: str | None = None
    #: The ground-truth checker's reason.
    check_reason: str = ""
    #: Suite-specific facts: visited landmarks, perturbations fired, corrections said.
    details: dict[str, Any] = Field(default_factory=dict)
    #: Programs run in the twin, and their wall-clock seconds.
    rehearsals: int = 0
    rehearsal_wall_s: float = 0.0
    #: Programs run in the real world.
    real_executions: int = 0
    #: Real executions of programs the twin had verified that the real world did not verify.
    twin_false_success: int = 0
    #: Model calls, and attempts whose model reply could not be used (no code, truncated...).
    llm_calls: int = 0
    reply_shape_failures: int = 0
    version: int = 1


def twin_false_successes(attempts: list[dict[str, Any]]) -> int:
    """Attempts the twin verified that then failed in the real world (execution or verdict)."""
    out = 0
    for a in attempts:
        rehearsed = a.get("rehearsal") or []
        if not (rehearsed and rehearsed[-1].get("ok")) or "execution" not in a:
            continue
        if a.get("outcome") != "succeeded":
            out += 1
    return out


def reply_shape_failures(attempts: list[dict[str, Any]]) -> int:
    """Attempts whose model reply could not be used (``ModelReplyError``)."""
    return sum(1 for a in attempts if a.get("error") == "ModelReplyError")


def episode_seed(seed: int, task_id: str, split: str, trial: int) -> int:
    """The episode's seed: a stable (hash-randomisation free) function of its coordinates."""
    return zlib.crc32(f"{seed}/{task_id}/{split}/{trial}".encode())


def _suite_ref(suite: Suite) -> str:
    """How an episode names its suite: the shipped id, else the file it was loaded from."""
    if suite.id in suite_ids() and Path(suite.source).parent.name == "suites":
        shipped = Path(suite.source)
        if shipped.stem == suite.id:
            return suite.id
    return suite.source or suite.id


def plan_episodes(
    suite: Suite,
    *,
    splits: list[str] | None = None,
    tasks: list[str] | None = None,
    trials: int,
    seed: int = 0,
    **engine_opts: Any,
) -> list[EpisodeSpec]:
    """Every episode of a run, in a deterministic order (split, task, trial).

    Args:
        suite: The suite.
        splits: Split ids (None = all).
        tasks: Task ids (None = all of each split).
        trials: Trials per (task, split) cell.
        seed: The run seed; each episode's seed derives from it.
        **engine_opts: EpisodeSpec fields: planner, llm, llm_settings, verify, skills, gif.

    Raises:
        UnknownNameError: an unknown split or task id (did-you-mean).
        ConfigError: an unknown engine option.
    """
    if trials < 1:
        raise ConfigError(f"trials must be at least 1, got {trials}")
    chosen = list(suite.splits) if splits is None else list(splits)
    for sid in chosen:
        suite.split(sid)
    if tasks is not None:
        for tid in tasks:
            suite.task(tid)
    ref = _suite_ref(suite)
    out: list[EpisodeSpec] = []
    for sid in chosen:
        for task in suite.tasks_for(sid):
            if tasks is not None and task.id not in tasks:
                continue
            for trial in range(trials):
                try:
                    out.append(
                        EpisodeSpec(
                            suite=ref,
                            task_id=task.id,
                            split=sid,
                            trial=trial,
                            seed=episode_seed(seed, task.id, sid, trial),
                            **engine_opts,
                        )
                    )
                except ValidationError as exc:
                    raise ConfigError(f"invalid episode options {engine_opts}: {exc}") from None
    return out


# -- failure categories ------------------------------------------------------------------------


def category_of(
    success: bool, engine_status: str, attempts: list[dict[str, Any]], timed_out: bool
) -> str | None:
    """The failure category of an episode (None when it succeeded).

    The engine said "succeeded" but the ground truth disagrees: false_success. Otherwise the
    last attempt's outcome decides: a static refusal, a safety refusal (the sandbox run was
    refused), a runtime error, a timeout, a verification failure, a model reply that could not
    be used, a model service error, or the planner refusing.
    """
    if success:
        return None
    if timed_out:
        return "timeout"
    if engine_status == "succeeded":
        return "false_success"
    if not attempts:
        return "planner_refused"
    # "Nothing new to offer" after rehearsal failures: the failure before it is the cause.
    real = [a for a in attempts if a.get("error") != "Repeated"] or attempts
    last = real[-1]
    outcome = last.get("outcome", "")
    if outcome == "rehearsal_failed":
        # Caught in the twin before the robot moved: categorised by what happened there.
        rehearsal = (last.get("rehearsal") or [{}])[-1]
        status = rehearsal.get("status", "")
        if status == "refused":
            return "safety_refusal"
        if status in ("error", "memory"):
            return "runtime_error"
        if status == "timeout":
            return "timeout"
        return "verification_failure"
    if outcome == "failed":
        # Planning failed: a model reply that could not be used (no code, truncated, syntax),
        # the model service (timeouts, errors), or a planner that cannot handle the command.
        if last.get("actor") == "llm":
            return "bad_reply"
        if str(last.get("error", "")).startswith("Model"):
            return "model_error"
        return "planner_refused"
    if outcome == "refused":
        return "safety_refusal" if "execution" in last else "static_refusal"
    if outcome in ("error", "memory"):
        return "runtime_error"
    if outcome == "timeout":
        return "timeout"
    return "verification_failure"


# -- running -----------------------------------------------------------------------------------


def _build_world(task: TaskSpec, episode: SampledEpisode, safety: Any) -> Any:
    from policywright.sim import FloorSpec, FloorWorld, SceneSpec, TabletopWorld

    if isinstance(episode.scene, SceneSpec):
        return TabletopWorld(episode.scene, safety=safety)
    if isinstance(episode.scene, FloorSpec):
        return FloorWorld(episode.scene)
    raise ConfigError(f"task {task.id!r}: no world for scene {type(episode.scene).__name__}")


def _engine_config(spec: EpisodeSpec, task: TaskSpec, suite: Suite, state_dir: Path) -> Any:
    from policywright.config import EngineConfig

    settings = dict(spec.llm_settings)
    if task.limits.max_tokens is not None and "max_tokens" not in settings:
        settings["max_tokens"] = task.limits.max_tokens
    try:
        return EngineConfig.model_validate(
            {
                "state_dir": state_dir,
                "planner": spec.planner,
                "llm": spec.llm,
                "llm_settings": settings,
                "verify": spec.verify,
                "skills": spec.skills,
                "max_attempts": task.limits.max_attempts,
                "rehearse": spec.rehearse,
                "candidates": spec.candidates,
                **(
                    {"rehearsal_budget": spec.rehearsal_budget}
                    if spec.rehearsal_budget is not None
                    else {}
                ),
                "seed": spec.seed % (2**31),
                "memory_exclude_families": tuple(suite.split(spec.split).memory_exclude_families),
                # Nobody is there to answer a question: plan with the first match; fail when
                # the budget is spent.
                "ask_on_ambiguity": False,
                "ask_on_failure": False,
            }
        )
    except ValidationError as exc:
        raise ConfigError(f"episode {spec.episode_id}: invalid engine settings: {exc}") from None


class _Recorder:
    """Collects what the checkers and metrics need from the engine's progress events.

    It is one of the engine's ``call_hooks``: it runs in the graph's thread while the program
    waits for a primitive call, so it may read the world without racing the robot's motion.
    """

    def __init__(self, engine: Any, world: Any, max_sim_s: float, start: float) -> None:
        self.engine = engine
        self.world = world
        self.max_sim_s = max_sim_s
        self.start = start
        self.first_motion: float | None = None
        self.timed_out = False
        self.track: list[tuple[float, float]] = []
        self.calls: list[dict[str, Any]] = []
        if world.kind == "floor":
            self._sample_robot()

    def _sample_robot(self) -> None:
        x, y, _ = self.world.robot_pose()
        self.track.append((float(x), float(y)))

    def _action(self, name: str) -> bool:
        try:
            return not bool(self.engine.registry.get(name).read_only)
        except Exception:
            return False

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        name = str(event.get("name", ""))
        if kind == "call_start" and self.first_motion is None and self._action(name):
            self.first_motion = time.perf_counter() - self.start
        if kind == "call":
            if self.first_motion is None and self._action(name):
                self.first_motion = time.perf_counter() - self.start
            self.calls.append(
                {
                    "name": name,
                    "args": event.get("args"),
                    "ok": event.get("ok"),
                    "result": event.get("result"),
                }
            )
            if self.world.kind == "floor":
                self._sample_robot()
        if (
            kind in ("call", "call_start")
            and not self.timed_out
            and self.world.sim_time > self.max_sim_s
        ):
            self.timed_out = True
            self.engine.post_correction("stop")


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")


def _artifacts(
    ep_dir: Path,
    world: Any,
    results: list[Any],
    check_result: CheckResult,
    frames: list[Any] | None,
) -> dict[str, str]:
    from policywright.agent._images import png_bytes

    out: dict[str, str] = {}
    programs, verdicts = [], []
    for turn, res in enumerate(results):
        for att in res.attempts:
            prog = att.get("program", {})
            programs.append(
                {
                    "turn": turn,
                    "attempt": att.get("attempt"),
                    "code": prog.get("code"),
                    "check_code": prog.get("check_code"),
                    "provenance": prog.get("provenance"),
                    "family": prog.get("family"),
                    "outcome": att.get("outcome"),
                    "feedback": att.get("feedback"),
                }
            )
            verdicts.append(
                {"turn": turn, "attempt": att.get("attempt"), "verdict": att.get("verdict")}
            )
    _write_json(ep_dir / "programs.json", programs)
    _write_json(
        ep_dir / "verdicts.json",
        {
            "engine": verdicts,
            "ground_truth": {"success": check_result.success, "reason": check_result.reason},
        },
    )
    out["programs"], out["verdicts"] = "programs.json", "verdicts.json"
    for key, camera in zip(("final_top", "final_front"), world.cameras, strict=False):
        name = f"{key}.png"
        (ep_dir / name).write_bytes(png_bytes(world.render(camera, *_FRAME_SIZE)))
        out[key] = name
    if frames:
        from policywright.sim import save_gif

        save_gif(frames, ep_dir / "episode.gif")
        out["gif"] = "episode.gif"
    return out


def _run(spec: EpisodeSpec, out_dir: Path, sandbox: Any, t0: float) -> EpisodeResult:
    from policywright.engine import Engine

    suite = load_suite(spec.suite)
    task = suite.task(spec.task_id)
    if task.id not in suite.split(spec.split).tasks:
        raise UnknownNameError(
            f"task of split {spec.split!r}", task.id, suite.split(spec.split).tasks
        )
    episode = sample_episode(suite, task, spec.split, spec.seed)
    ep_dir = out_dir / spec.episode_id
    if ep_dir.exists():
        # A retried episode starts over: no memory or checkpoint of the failed try survives.
        shutil.rmtree(ep_dir)
    ep_dir.mkdir(parents=True)
    config = _engine_config(spec, task, suite, ep_dir / "state")
    world = _build_world(task, episode, config.safety)
    engine = None
    try:
        engine = Engine(world, config, sandbox=sandbox)
        initial = true_positions(world)
        recorder = _Recorder(engine, world, task.limits.max_sim_s, t0)
        engine.call_hooks.append(recorder)
        perturber = None
        if task.perturbations:
            from policywright.evals._perturb import Perturber

            perturber = Perturber(engine, world, task.perturbations)
            engine.call_hooks.append(perturber)
        recording = spec.gif and hasattr(world, "start_recording")
        if recording:
            world.start_recording()
        thread = spec.episode_id.replace("/", "_")
        human: Any = None
        session: Any = None
        watcher: Any = None
        script: Any = None
        if task.corrections is not None:
            from policywright.evals._human import CorrectionSession, SimulatedHuman, resolve_script

            script = resolve_script(task.corrections, episode.slots)
            human = SimulatedHuman(script)
            session = CorrectionSession()
            if script.live:
                watcher = human.watcher(engine, world, session)
                engine.call_hooks.append(watcher)
        result = engine.run(episode.command, thread_id=thread)
        if watcher is not None:
            # From here on the person corrects the finished task (Engine.correct).
            engine.call_hooks.remove(watcher)
        results = [result]
        details: dict[str, Any] = {"slots": episode.slots, "scene_tries": episode.tries}
        corrections = 0
        repeat_success: bool | None = None
        if human is not None:
            session = human.correct_until_satisfied(engine, world, thread, session)
            results.extend(session.results)
            corrections = session.corrections
            details["said"] = session.said
            details["live_corrections"] = session.live
        frames = world.stop_recording() if recording else None
        final = true_positions(world)
        if perturber is not None:
            perturber.close()
            details["perturbations"] = perturber.fired
        visits: list[str] = []
        if world.kind == "floor":
            marks = {n: p for n, p in initial.items() if n != "robot"}
            visits = landmark_visits(recorder.track, marks)
            details["visits"] = visits
        params = dict(task.checker.params)
        if task.checker.name == "hidden_goal" and script is not None:
            params.update(script.goal.model_dump())
        verdict = check(
            task.checker.name,
            CheckInput(
                initial=initial,
                final=final,
                slots=episode.slots,
                params=params,
                track=recorder.track,
                visits=visits,
            ),
        )
        artifacts = _artifacts(ep_dir, world, results[-1:], verdict, frames)
        sim_s = float(world.sim_time)
        if script is not None and script.repeat:
            repeat_success = _repeat(engine, config, task, episode, thread, script)
            details["repeat"] = repeat_success
        # Corrections continue the same thread: its last result holds every attempt and the
        # summed usage of the whole conversation.
        last = results[-1]
        all_attempts = list(last.attempts)
        engine_status = last.status
        noticed = None
        if task.perturbations:
            noticed = (
                len(all_attempts) > 1
                or any(not (a.get("verdict") or {}).get("success", True) for a in all_attempts)
                or engine_status != "succeeded"
            )
        category = category_of(verdict.success, engine_status, all_attempts, recorder.timed_out)
        usage = last.usage
        return EpisodeResult(
            episode_id=spec.episode_id,
            suite=suite.id,
            task_id=task.id,
            family=task.family,
            split=spec.split,
            trial=spec.trial,
            seed=spec.seed,
            command=episode.command,
            success=verdict.success,
            status="succeeded" if verdict.success else "failed",
            failure_category=category,  # type: ignore[arg-type]
            engine_status=engine_status,
            reason=last.reason,
            attempts=len(all_attempts),
            corrections=corrections,
            repeat_success=repeat_success,
            recovered=verdict.success if task.perturbations else None,
            noticed=noticed,
            tokens_in=usage.input_tokens,
            tokens_cached=usage.cached_tokens,
            tokens_out=usage.output_tokens,
            cost_usd=usage.cost_usd,
            latency_first_motion_s=recorder.first_motion,
            wall_s=time.perf_counter() - t0,
            sim_s=sim_s,
            artifacts=artifacts,
            check_reason=verdict.reason,
            details=details,
            rehearsals=last.rehearsals,
            rehearsal_wall_s=last.rehearsal_wall_s,
            real_executions=last.real_executions,
            twin_false_success=twin_false_successes(all_attempts),
            llm_calls=usage.llm_calls,
            reply_shape_failures=reply_shape_failures(all_attempts),
        )
    finally:
        if engine is not None:
            engine.close()
        world.close()


def _repeat(
    engine: Any,
    config: Any,
    task: TaskSpec,
    episode: SampledEpisode,
    thread: str,
    script: Any,
) -> bool:
    """Run the same command again on a fresh copy of the start scene, with the same memory.

    Returns whether the person is satisfied without saying anything.
    """
    from policywright.engine import Engine
    from policywright.evals._human import SimulatedHuman

    world = _build_world(task, episode, config.safety)
    # Same state folder (the memory learned from the corrections), same sandbox process.
    again = Engine(world, config, sandbox=engine.sandbox)
    try:
        again.run(episode.command, thread_id=f"{thread}.repeat")
        return SimulatedHuman(script).deviation(true_positions(world)) is None
    finally:
        again.close()
        world.close()


def run_episode(spec_json: str, out_dir: str, *, sandbox: object | None = None) -> str:
    """Run one episode in this process and return its :class:`EpisodeResult` as JSON.

    Never raises for a failed task; anything unexpected becomes an ``infra_error`` result with
    the traceback in ``error``. The result is also written to
    ``<out_dir>/<episode_id>/result.json``.

    Args:
        spec_json: An :class:`EpisodeSpec` as JSON.
        out_dir: The run folder; the episode writes under ``<out_dir>/<episode_id>/``.
        sandbox: A started ``policywright.agent.sandbox.Sandbox`` to reuse (a long-lived worker).
    """
    t0 = time.perf_counter()
    try:
        spec = EpisodeSpec.model_validate_json(spec_json)
    except ValidationError as exc:
        raw: dict[str, Any] = {}
        with contextlib.suppress(ValueError, TypeError):
            raw = dict(json.loads(spec_json))
        return _infra(raw, f"invalid episode spec: {exc}", t0).model_dump_json()
    try:
        result = _run(spec, Path(out_dir), sandbox, t0)
    except Exception:
        logger.exception("episode %s failed to run", spec.episode_id)
        result = _infra(spec.model_dump(), traceback.format_exc(), t0)
    ep_dir = Path(out_dir) / spec.episode_id
    try:
        ep_dir.mkdir(parents=True, exist_ok=True)
        (ep_dir / "result.json").write_text(result.model_dump_json(indent=1), encoding="utf-8")
    except OSError:
        logger.exception("cannot write the result of %s", spec.episode_id)
    return result.model_dump_json()


def _infra(raw: dict[str, Any], error: str, t0: float) -> EpisodeResult:
    task_id = str(raw.get("task_id", "?"))
    split = str(raw.get("split", "?"))
    trial = int(raw.get("trial", 0)) if str(raw.get("trial", "0")).isdigit() else 0
    return EpisodeResult(
        episode_id=f"{task_id}.{split}.{trial:03d}",
        suite=str(raw.get("suite", "?")),
        task_id=task_id,
        family="",
        split=split,
        trial=trial,
        seed=int(raw.get("seed", 0)) if str(raw.get("seed", "0")).isdigit() else 0,
        command="",
        success=False,
        status="infra_error",
        failure_category="infra",
        engine_status="",
        reason=error.strip().splitlines()[-1] if error.strip() else "infrastructure error",
        attempts=0,
        tokens_in=0,
        tokens_cached=0,
        tokens_out=0,
        cost_usd=0.0,
        latency_first_motion_s=None,
        wall_s=time.perf_counter() - t0,
        sim_s=0.0,
        error=error,
    )
