"""policywright.primitives."""
