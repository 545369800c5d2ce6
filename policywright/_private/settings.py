"""Where settings come from: defaults < config file (TOML) < environment < command-line flags.

Hand-written rather than pydantic-settings because ``EngineConfig()`` must stay a pure value
(no hidden read of the environment when a test or library user builds one); the loader is the
one place that reads files and the environment, and only when asked.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import platformdirs
import pydantic

from policywright.config import EngineConfig
from policywright.errors import ConfigError

__all__ = ["ENV_PREFIX", "default_config_file", "load_config"]

ENV_PREFIX = "POLICYWRIGHT_"
#: Environment variables that are not settings of EngineConfig.
_NOT_SETTINGS = {"POLICYWRIGHT_CONFIG", "POLICYWRIGHT_LIVE_BASE_URL", "POLICYWRIGHT_LIVE_MODEL"}


def default_config_file() -> Path:
    """``~/.config/policywright/config.toml`` (or the platform's equivalent)."""
    return Path(platformdirs.user_config_dir("policywright", appauthor=False)) / "config.toml"


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _env_value(text: str) -> Any:
    # JSON where it parses (numbers, booleans, lists, objects), else the raw string.
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    fields = EngineConfig.model_fields
    out: dict[str, Any] = {}
    for name, raw in sorted(env.items()):
        if not name.startswith(ENV_PREFIX) or name in _NOT_SETTINGS:
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        if path[0] not in fields:
            known = ", ".join(ENV_PREFIX + f.upper() for f in sorted(fields))
            raise ConfigError(f"unknown setting in the environment: {name} (known: {known})")
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = _env_value(raw)
    return out


def load_config(
    config_file: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> EngineConfig:
    """Build the engine settings from every source.

    Args:
        config_file: A TOML file; default: ``$POLICYWRIGHT_CONFIG``, else
            :func:`default_config_file` when it exists.
        env: The environment (default ``os.environ``); ``POLICYWRIGHT_<FIELD>`` sets a field,
            ``POLICYWRIGHT_<SECTION>__<FIELD>`` a nested one (values parse as JSON when they can).
        overrides: Values from command-line flags (None values are ignored).

    Returns:
        The validated settings.

    Raises:
        ConfigError: the file is missing or malformed, or a value is invalid.
    """
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    path = config_file
    if path is None and env.get("POLICYWRIGHT_CONFIG"):
        path = Path(env["POLICYWRIGHT_CONFIG"])
    elif path is None and default_config_file().is_file():
        path = default_config_file()
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read config file {str(path)!r}: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from exc
    data = _merge(data, _from_env(env))
    data = _merge(data, {k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return EngineConfig.model_validate(data)
    except pydantic.ValidationError as exc:
        where = f" (config file {str(path)!r} and POLICYWRIGHT_* variables)" if path else ""
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"invalid settings{where}: {problems}") from exc
