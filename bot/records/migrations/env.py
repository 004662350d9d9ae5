"""Alembic environment: the engine comes from ``bot.records.db`` (never from an ini file)."""

from alembic import context

from bot.records.models import Base

connectable = context.config.attributes["engine"]

with connectable.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
