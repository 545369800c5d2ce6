"""policywright: an LLM or VLM writes robot policy code; it runs sandboxed and verified."""

from policywright.errors import (
    InternalError,
    LLMError,
    PolicywrightError,
    UserError,
)

__all__ = ["InternalError", "LLMError", "PolicywrightError", "UserError", "__version__"]
__version__ = "0.1.0"
