"""Evaluation suites, runner and reports (issue 6; this package is intentionally empty until then)."""
