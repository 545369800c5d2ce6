"""Run a command and kill -9 this process at a chosen progress event (used by test_durability)."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

from policywright.config import EngineConfig
from policywright.engine import Engine
from policywright.sim import SceneSpec, TabletopWorld

state_dir, thread, command, kill_event, kill_name, nth = sys.argv[1:7]
scene = json.loads(sys.argv[7])
post = sys.argv[8] if len(sys.argv) > 8 else ""
world = TabletopWorld(SceneSpec.model_validate(scene))
engine = Engine(world, EngineConfig(state_dir=Path(state_dir)))
seen = 0


def on_event(e: dict) -> None:
    global seen
    if e.get("event") == kill_event and (not kill_name or e.get("name") == kill_name):
        seen += 1
        if seen == int(nth):
            if post:
                print(engine.post_correction(post).model_dump_json(), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)


engine.run(command, thread_id=thread, on_event=on_event)
print("NOT KILLED", flush=True)
