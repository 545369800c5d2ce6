"""policywright.agent."""
