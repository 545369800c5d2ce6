"""Language corrections: parsed offline, queued by any front end, applied by the engine."""

from policywright.agent.corrections._channel import (
    CorrectionAck,
    CorrectionChannel,
    PendingCorrection,
)
from policywright.agent.corrections._parse import (
    Correction,
    CorrectionParseError,
    parse_correction,
)

__all__ = [
    "Correction",
    "CorrectionAck",
    "CorrectionChannel",
    "CorrectionParseError",
    "PendingCorrection",
    "parse_correction",
]
