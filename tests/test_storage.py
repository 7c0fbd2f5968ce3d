"""The schema the migrations build is the one the code declares."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from livefeed.db import migrate
from livefeed.db.tables import metadata
from livefeed.integrations.smtp import SmtpOptions


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    """This module's tests run on both databases."""
    return request.param


def test_migrations_match_the_declared_tables(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    assert migrate.pending(engine) == []


def test_smtp_url_options():
    plain = SmtpOptions.from_url("smtp://user%40x:p%3Ass@mail.test:2525?starttls=false")
    assert (plain.host, plain.port, plain.username, plain.password, plain.use_tls, plain.start_tls) == (
        "mail.test",
        2525,
        "user@x",
        "p:ss",
        False,
        False,
    )
    assert SmtpOptions.from_url("smtp://mail.test").port == 587 and SmtpOptions.from_url("smtp://mail.test").start_tls is None
    implicit = SmtpOptions.from_url("smtps://mail.test")
    assert implicit.use_tls and implicit.port == 465 and implicit.start_tls is None


def test_the_database_and_its_folder_are_private_to_the_server_user(tmp_path):
    import stat

    from livefeed.db.engine import make_engine
    from livefeed.settings import from_env

    var = tmp_path / "var"
    settings = from_env({"LIVEFEED_VAR_DIR": str(var)})
    engine = make_engine(settings.database_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x)")
    engine.dispose()
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in [var, *var.iterdir()]}
    assert modes["var"] == 0o700 and modes["secret_key"] == 0o600 and modes["livefeed.db"] == 0o600
    assert all(mode & 0o077 == 0 for name, mode in modes.items()), modes  # -wal and -shm too


def test_each_vault_purpose_has_its_own_key_and_unknown_purposes_are_refused():
    from livefeed.db.vault import MAILBOX_PASSWORD, PURPOSES, SMTP_PASSWORD, VaultError, vault_for

    key = b"k" * 32
    sealed = vault_for(key, MAILBOX_PASSWORD).seal("hunter2")
    assert vault_for(key, MAILBOX_PASSWORD).open(sealed) == "hunter2"
    with pytest.raises(VaultError):
        vault_for(key, SMTP_PASSWORD).open(sealed)  # sealed for the mailbox: not an SMTP password
    with pytest.raises(ValueError):
        vault_for(key, "something new")
    assert len(set(PURPOSES)) == len(PURPOSES)


def test_the_event_logs_driver_errors_come_out_as_sqlalchemys_in_and_out_of_a_pipeline(engine):
    """The writer runs PostgreSQL's hot statements on psycopg's own cursor (pipelined); a failure
    must still read as SQLAlchemy's, so the spool's "database away" test and the callers'
    IntegrityError handling keep working."""
    from sqlalchemy.exc import DBAPIError, IntegrityError

    from livefeed.db.eventlog import EventLog, event_row

    log = EventLog(engine.dialect.name)
    with pytest.raises(DBAPIError):
        with engine.begin() as conn:
            log._run(conn, "SELECT no_such_column FROM events")
    with pytest.raises(IntegrityError):
        with engine.begin() as conn, log.pipelined(conn):
            log._run_many(conn, "INSERT INTO workspaces (name) VALUES ('a')", [()])  # no site key: NOT NULL
            log._run(conn, "SELECT 1").fetchone()
    with engine.begin() as conn:  # the connection went back to the pool usable, nothing half-written
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM workspaces WHERE name = 'a'").scalar() == 0
    assert event_row(kind="open")["forwarded"] is False
