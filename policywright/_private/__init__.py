"""policywright.policywright._private."""
