"""``python -m policywright`` runs the command line."""

from policywright.cli import main

main()
