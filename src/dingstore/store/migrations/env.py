"""Alembic environment. dingstore runs migrations itself at start (store/database.py), passing
the connection in ``config.attributes``; ``target_metadata`` lets autogenerate compare."""

from __future__ import annotations

from alembic import context

from dingstore.store.schema import metadata

target_metadata = metadata
connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through dingstore.store.database.migrate")

context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
