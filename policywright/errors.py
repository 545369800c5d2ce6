"""The error hierarchy: every error says who must act.

* :class:`LLMError` -- the planner (an LLM) must act: retry with the message as feedback.
* :class:`UserError` -- the person must act: fix the command, the scene or the config.
* :class:`InternalError` -- we must act: this is a bug in policywright.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "CorrectionError",
    "EmptyCommandError",
    "InternalError",
    "LLMError",
    "MissingExtraError",
    "ModelAuthError",
    "ModelError",
    "ModelReplyError",
    "ModelRequestError",
    "ModelUnavailableError",
    "PlannerCannotHandle",
    "PolicywrightError",
    "Preempted",
    "PrimitiveError",
    "ProgramError",
    "RegistrationError",
    "SafetyViolation",
    "SkillLoadError",
    "UnknownNameError",
    "UnknownObjectError",
    "UnknownThreadError",
    "UserError",
]


class PolicywrightError(Exception):
    """Base class of every error policywright raises on purpose."""

    #: Who must act: "llm", "user" or "us".
    actor: str = "us"


class UserError(PolicywrightError):
    """The person must act: fix the command, the scene or the configuration."""

    actor = "user"


class LLMError(PolicywrightError):
    """The planner must act: the message is feedback for the next attempt."""

    actor = "llm"


class InternalError(PolicywrightError):
    """A bug in policywright; please report it."""

    actor = "us"


class ConfigError(UserError):
    """A configuration value or file is invalid."""


class EmptyCommandError(UserError):
    """The command is empty or holds only whitespace."""


class UnknownNameError(UserError):
    """A string id (primitive, skill, planner, ...) names nothing registered.

    The message lists the close matches ("did you mean ...").
    """

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        import difflib

        self.kind, self.name, self.known = kind, name, sorted(known)
        close = difflib.get_close_matches(name, self.known, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        listing = ", ".join(repr(k) for k in self.known) or "none"
        super().__init__(f"unknown {kind} {name!r}{hint} (known: {listing})")


class UnknownObjectError(UnknownNameError):
    """A command or a program names an object that is not in the scene."""

    def __init__(self, name: str, present: list[str]) -> None:
        super().__init__("object", name, present)


class PlannerCannotHandle(UserError):
    """The planner cannot turn this command into a program (rephrase it, or use an LLM)."""


class MissingExtraError(UserError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, extra: str, module: str) -> None:
        super().__init__(
            f"this feature needs the optional dependency {module!r}: "
            f"pip install 'policywright[{extra}]'"
        )


class RegistrationError(InternalError):
    """A primitive or skill is malformed (undocumented or untyped argument, duplicate id)."""


class ProgramError(LLMError):
    """A planner-written program was refused or failed; the message is the feedback."""


class PrimitiveError(ProgramError):
    """A primitive could not do what the program asked (unknown object, a grasp that failed).

    Inside the sandbox the program sees it as an exception it may catch.
    """


class SafetyViolation(PolicywrightError):
    """A commanded pose or motion breaks a safety limit (workspace, keep-out zone, NaN).

    Raised by the sim's safety layer; the engine turns it into a refused run.
    """

    actor = "llm"

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        super().__init__(f"safety limit '{rule}': {message}")


class ModelError(PolicywrightError):
    """A chat model call failed; subclasses say why and who must act."""

    actor = "user"


class ModelAuthError(ModelError, UserError):
    """No API key, or the provider rejected it (a key for the wrong provider, say)."""


class ModelRequestError(ModelError, UserError):
    """The provider refused the request: unknown model, bad parameter, content refused."""


class ModelUnavailableError(ModelError, UserError):
    """The server is unreachable, timed out, or kept rate-limiting after the bounded retries."""


class ModelReplyError(ModelError, LLMError):
    """The reply is unusable (no code, truncated, malformed JSON); the planner may repair it."""

    actor = "llm"


class SkillLoadError(UserError):
    """A skill's weights file is missing or corrupt (retrain it or reinstall the package)."""


class Preempted(PolicywrightError):
    """A person's correction (or "stop") interrupted the running program.

    Not a failure: the engine's ``correct`` step handles the correction and the program
    continues, re-plans or waits for the person.
    """

    actor = "user"


class CorrectionError(UserError):
    """A correction cannot be applied (nothing to correct, an object that is not there)."""


class UnknownThreadError(UserError):
    """No task thread has this id (or it cannot be resumed)."""
