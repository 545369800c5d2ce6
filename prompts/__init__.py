"""Jinja2 prompt templates, shipped as package data (the LLM planner's prompts arrive with issue 3)."""
