"""Alembic's entry: run the migrations online, one run at a time per database (advisory lock)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool, text

MIGRATION_LOCK = "pm-schema-migrations"

url = context.config.get_main_option("sqlalchemy.url")
engine = create_engine(url, poolclass=pool.NullPool)
with engine.connect() as connection:
    connection.execute(text("SELECT pg_advisory_lock(hashtextextended(:name, 0))"), {"name": MIGRATION_LOCK})
    connection.commit()
    try:
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    finally:
        connection.execute(
            text("SELECT pg_advisory_unlock(hashtextextended(:name, 0))"), {"name": MIGRATION_LOCK}
        )
        connection.commit()
engine.dispose()
