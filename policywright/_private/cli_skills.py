"""`policywright skills list|train|eval` (filled by the skills work)."""

from __future__ import annotations

import typer

skills_app = typer.Typer(help="List, train and evaluate skills.", no_args_is_help=True)
