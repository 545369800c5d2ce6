"""policywright.agent.sandbox."""
