"""Alembic environment: migrations always run on a connection the warehouse hands over.

The warehouse runs them itself when it opens a database (see
:func:`pybaton.warehouse.engine.migrate`); there is no ``alembic.ini`` to edit.
"""

from __future__ import annotations

from alembic import context

from pybaton.warehouse.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
