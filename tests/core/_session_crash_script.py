"""Run a session's next command in its own world; kill -9 this process at a progress event.

Used by test_sessions: argv is state_dir, session, command, event, name (of the call).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from policywright.config import EngineConfig
from policywright.engine import Engine, session_world

state_dir, session, command, kill_event, kill_name = sys.argv[1:6]
config = EngineConfig(state_dir=Path(state_dir))
world = session_world(config, session)
engine = Engine(world, config)


def on_event(e: dict[str, Any]) -> None:
    if e.get("event") == kill_event and (not kill_name or e.get("name") == kill_name):
        os.kill(os.getpid(), signal.SIGKILL)


engine.run(command, session=session, on_event=on_event)
print("NOT KILLED", flush=True)
