"""Evaluation suites, runner and reports (the evaluation issue; empty until then)."""
