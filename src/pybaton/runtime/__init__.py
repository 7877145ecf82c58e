"""The standalone connector command: Baton's flags, ``capabilities``, ``config``, sync and provisioning.

This sits above the sync engine and provisioning because it drives both; the
authoring API (:mod:`pybaton.connector`) sits below them. Connector authors
still write ``from pybaton.connector import run``: that function forwards here
at call time (the one downward-facing edge the layering test allows, see
``tests/test_layering.py``).
"""

from pybaton.runtime.runner import execute, main

__all__ = ["execute", "main"]
