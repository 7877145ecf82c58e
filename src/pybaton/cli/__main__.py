"""``python -m pybaton.cli``."""

from pybaton.cli.main import main

main()
