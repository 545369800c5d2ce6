"""policywright.agent.planner."""
