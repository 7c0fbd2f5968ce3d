"""Apply and inspect Alembic migrations programmatically (the CLI and `serve` call these)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


def _config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest schema."""
    config = _config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def pending(engine: Engine) -> list[str]:
    """Revisions not yet applied (empty when up to date)."""
    script = ScriptDirectory.from_config(_config(engine))
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    heads = script.get_revisions("heads")
    todo = []
    for head in heads:
        for revision in script.iterate_revisions(head.revision, "base"):
            if revision.revision in current:
                break
            todo.append(revision.revision)
    return todo
