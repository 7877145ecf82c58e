"""The web console (``pybaton serve``): look at access across every system, and run access reviews.

Server-rendered pages over the warehouse (:mod:`.app`), access reviews
(:mod:`.reviews`), local accounts and roles (:mod:`.users`), sessions, the
trusted proxy header and CSRF (:mod:`.security`), the access-path graph
(:mod:`.graph`). It reads the warehouse and writes only through the review
store and reconcile's apply. Needs the ``console`` extra.
"""
