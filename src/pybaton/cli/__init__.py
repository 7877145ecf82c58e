"""The ``pybaton`` command line: thin commands over :mod:`pybaton.c1z`, rendered as Go's ``baton`` does."""
