"""Settings come from defaults < a TOML file < POLICYWRIGHT_* variables < flags."""

from __future__ import annotations

import pytest

from policywright._private.settings import load_config
from policywright.errors import ConfigError


def test_sources_and_precedence(tmp_path):
    f = tmp_path / "pw.toml"
    f.write_text(
        'llm = "openai:gpt-4o"\nmax_attempts = 4\nverify = "both"\n[sandbox]\nmemory_mb = 600\n'
    )
    env = {"POLICYWRIGHT_MAX_ATTEMPTS": "6", "POLICYWRIGHT_SANDBOX__WALL_SECONDS": "7.5"}
    cfg = load_config(f, env=env, overrides={"verify": "code", "llm": None})
    assert cfg.llm == "openai:gpt-4o"  # file (a None flag does not override)
    assert cfg.max_attempts == 6  # env beats file
    assert cfg.verify == "code"  # flag beats file
    assert cfg.sandbox.memory_mb == 600 and cfg.sandbox.wall_seconds == 7.5


def test_config_file_from_environment(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("seed = 9\n")
    assert load_config(env={"POLICYWRIGHT_CONFIG": str(f)}).seed == 9


@pytest.mark.parametrize(
    ("env", "text", "match"),
    [
        ({"POLICYWRIGHT_BOGUS": "1"}, None, "unknown setting.*POLICYWRIGHT_BOGUS"),
        ({"POLICYWRIGHT_MAX_ATTEMPTS": "0"}, None, "max_attempts"),
        ({}, "verify = 'maybe'", "verify"),
        ({}, "this is = = not toml", "not valid TOML"),
        ({}, "colour = 'red'", "colour"),
    ],
)
def test_bad_settings_are_clear(tmp_path, env, text, match):
    f = None
    if text is not None:
        f = tmp_path / "bad.toml"
        f.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_config(f, env=env)


def test_missing_file_is_clear(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "nope.toml", env={})
