"""policywright.skills."""
