"""Jinja2 prompt templates, shipped as package data (they arrive with the LLM planner)."""
