"""policywright.sim."""
