"""pybaton: who has access to what, across every system, in Baton's format.

The package is laid out by the path data takes (the README's "Project layout"):
``connector`` → ``sync`` → ``c1z`` → readers (``cli``, diff, ``reconcile``) →
``provision``. Each sub-package has one job and a small public surface.
"""

__version__ = "0.1.0"
