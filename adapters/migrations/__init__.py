"""The schema of the service's PostgreSQL database, as Alembic migrations (`versions/`).

`upgrade(url)` applies what is missing (`starter.py admin migrate`, or the worker at start with
`PM_MIGRATE_ON_START=1`); `pending(url)` lists what is missing (the worker refuses to start on an
out-of-date schema). Each migration is plain SQL in one transaction; concurrent runs wait for each
other on an advisory lock (`env.py`). The SQLite files of local use create their tables themselves.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool
from sqlalchemy.exc import OperationalError

HERE = Path(__file__).resolve().parent


def sqlalchemy_url(url: str) -> str:
    """`postgresql://…` as SQLAlchemy's URL for psycopg 3."""
    scheme, _, rest = url.partition("://")
    if scheme not in ("postgresql", "postgres", "postgresql+psycopg"):
        raise ValueError("PM_DATABASE_URL must be a postgresql:// URL")
    return f"postgresql+psycopg://{rest}"


def _config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(url).replace("%", "%%"))
    return config


def head() -> str:
    """The newest migration's revision."""
    revision = ScriptDirectory.from_config(_config("postgresql://unused")).get_current_head()
    assert revision is not None
    return revision


def current(url: str) -> str | None:
    """The revision the database is at (None: no migration applied yet)."""
    engine = create_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except OperationalError as err:  # the first line only: the rest may repeat the URL
        raise ConnectionError(f"cannot reach the service database: {str(err.orig).splitlines()[0]}") from None
    finally:
        engine.dispose()


def pending(url: str) -> list[str]:
    """The revisions not applied yet, oldest first."""
    script = ScriptDirectory.from_config(_config(url))
    at = current(url)
    missing = [s.revision for s in script.iterate_revisions(script.get_current_head(), at)]
    return list(reversed(missing))


def upgrade(url: str) -> list[str]:
    """Apply every missing migration; returns the revisions applied (none when the schema is current)."""
    missing = pending(url)
    if missing:
        command.upgrade(_config(url), "head")
    return missing
