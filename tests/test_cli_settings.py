"""Configuration from LIVEFEED_* variables, and the livefeed command."""

import pytest
from typer.testing import CliRunner

from livefeed import actions
from livefeed.cli import app
from livefeed.db.engine import make_engine
from livefeed.db.tables import now_utc
from livefeed.settings import SettingsError, from_env

runner = CliRunner()


def env_for(tmp_path, **extra) -> dict:
    return {"LIVEFEED_VAR_DIR": str(tmp_path), "LIVEFEED_DATABASE_URL": f"sqlite:///{tmp_path / 'lf.db'}", **extra}


def test_defaults_keep_everything_under_var(tmp_path):
    settings = from_env({"LIVEFEED_VAR_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'livefeed.db'}"
    assert settings.smtp_url is None and settings.trusted_proxies == ()


def test_secret_key_is_generated_once_and_kept(tmp_path):
    first = from_env({"LIVEFEED_VAR_DIR": str(tmp_path)}).secret_key
    assert len(first) >= 32
    assert from_env({"LIVEFEED_VAR_DIR": str(tmp_path)}).secret_key == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    "name, value",
    [
        ("DATABASE_URL", "mysql://x"),
        ("PUBLIC_URL", "ftp://x"),
        ("SECRET_KEY", "short"),
        ("SMTP_URL", "http://mail"),
        ("SMTP_URL", "smtp://host:notaport"),
        ("TRUSTED_PROXIES", "10.0.0.0/8, not-a-network"),
        ("GEOIP_DB", "/nonexistent.mmdb"),
        ("HEARTBEAT_SECONDS", "soon"),
    ],
)
def test_bad_value_names_the_variable(tmp_path, name, value):
    with pytest.raises(SettingsError, match=f"LIVEFEED_{name}"):
        from_env({"LIVEFEED_VAR_DIR": str(tmp_path), f"LIVEFEED_{name}": value})


def test_cli_stops_on_a_bad_value_with_its_name(tmp_path):
    result = runner.invoke(app, ["migrate"], env=env_for(tmp_path, LIVEFEED_PUBLIC_URL="nope"))
    assert result.exit_code == 2 and "LIVEFEED_PUBLIC_URL" in result.output


def test_users_add_and_tokens_create(tmp_path):
    env = env_for(tmp_path)
    added = runner.invoke(
        app, ["users", "add", "--email", "Rita@Seller.test", "--name", "Rita", "--timezone", "Europe/Paris"], env=env
    )
    assert added.exit_code == 0, added.output
    created = runner.invoke(app, ["tokens", "create", "--email", "rita@seller.test"], env=env)
    assert created.exit_code == 0
    token = created.stdout.strip()
    assert created.stdout == token + "\n" and token.startswith("lf_")
    engine = make_engine(env["LIVEFEED_DATABASE_URL"])
    with engine.connect() as conn:
        user = actions.user_for_token(conn, token, now=now_utc())
        assert (user["email"], user["timezone"]) == ("rita@seller.test", "Europe/Paris")
        assert conn.exec_driver_sql("SELECT password_hash FROM users").scalar() is None
    engine.dispose()


def test_users_add_reads_a_password_from_stdin(tmp_path):
    env = env_for(tmp_path)
    result = runner.invoke(
        app, ["users", "add", "--email", "a@b.test", "--name", "A", "--password-stdin"], input="s3cret-password\n", env=env
    )
    assert result.exit_code == 0
    engine = make_engine(env["LIVEFEED_DATABASE_URL"])
    assert actions.sign_in(engine, email="a@b.test", password="s3cret-password", ip=None, now=now_utc())
    engine.dispose()


@pytest.mark.parametrize(
    "args, word",
    [
        (["--email", "nope", "--name", "A"], "email"),
        (["--email", "a@b.test", "--name", "A", "--timezone", "Mars/Olympus"], "timezone"),
        (["--email", "a@b.test", "--name", "A\nB"], "name"),
    ],
)
def test_users_add_rejects_bad_input(tmp_path, args, word):
    result = runner.invoke(app, ["users", "add", *args], env=env_for(tmp_path))
    assert result.exit_code != 0 and word in result.output


def test_users_add_refuses_a_duplicate(tmp_path):
    env = env_for(tmp_path)
    runner.invoke(app, ["users", "add", "--email", "a@b.test", "--name", "A"], env=env)
    again = runner.invoke(app, ["users", "add", "--email", "a@b.test", "--name", "A"], env=env)
    assert again.exit_code == 1 and "already exists" in again.output


def test_tokens_create_for_unknown_user_fails(tmp_path):
    result = runner.invoke(app, ["tokens", "create", "--email", "ghost@b.test"], env=env_for(tmp_path))
    assert result.exit_code == 1 and result.stdout == ""


def test_signin_link_is_printed(tmp_path):
    env = env_for(tmp_path, LIVEFEED_PUBLIC_URL="https://feed.example.com")
    runner.invoke(app, ["users", "add", "--email", "a@b.test", "--name", "A"], env=env)
    result = runner.invoke(app, ["users", "signin-link", "--email", "a@b.test"], env=env)
    assert result.exit_code == 0 and result.stdout.startswith("https://feed.example.com/signin/link/")


def test_migrate_reports_and_is_idempotent(tmp_path):
    env = env_for(tmp_path)
    first = runner.invoke(app, ["migrate"], env=env).output
    assert first.startswith("Applied ") and not first.startswith("Applied 0 ")
    assert "Applied 0 migration" in runner.invoke(app, ["migrate"], env=env).output


def test_users_add_takes_a_salesforce_user_id(tmp_path):
    env = env_for(tmp_path)
    bad = runner.invoke(app, ["users", "add", "--email", "a@b.test", "--name", "A", "--salesforce-user-id", "XYZ"], env=env)
    assert bad.exit_code == 1 and "salesforce_user_id" in bad.output
    good = runner.invoke(
        app, ["users", "add", "--email", "a@b.test", "--name", "A", "--salesforce-user-id", "005Dn000001AbCdEFG"], env=env
    )
    assert good.exit_code == 0, good.output


def test_every_variable_is_documented_and_the_docs_are_current():
    import re
    from pathlib import Path

    import livefeed.settings as settings_module
    from livefeed.settings import VARIABLES, configuration_markdown

    source = Path(settings_module.__file__).read_text()
    read = set(re.findall(r'PREFIX \+ "([A-Z_]+)"', source)) | set(re.findall(r'_number\(env, "([A-Z_]+)"', source))
    assert read == {v.name for v in VARIABLES}
    docs = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
    assert docs.read_text() == configuration_markdown(), "run: livefeed config-docs > docs/configuration.md"


def test_api_docs_are_generated_from_the_openapi_description(settings):
    from pathlib import Path

    from livefeed.web.apidocs import api_markdown
    from livefeed.web.app import create_app

    spec = create_app(settings).app.openapi()
    docs = (Path(__file__).resolve().parent.parent / "docs" / "api.md").read_text()
    assert docs == api_markdown(spec), "run: livefeed api-docs > docs/api.md"
    assert "| PUT | `/api/v1/smtp` |" in docs and "| GET | `/api/v1/templates` |" in docs


def test_an_unreachable_database_is_one_line_naming_it_without_its_password(tmp_path):
    import subprocess
    import sys

    from .conftest import free_port

    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LIVEFEED_VAR_DIR": str(tmp_path),
        "LIVEFEED_DATABASE_URL": f"postgresql://bob:hunter2@127.0.0.1:{free_port()}/livefeed",
    }
    done = subprocess.run([sys.executable, "-m", "livefeed.cli", "migrate"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert lines[0].startswith("Cannot use the database at postgresql://bob:***@127.0.0.1:")
    assert "hunter2" not in done.stderr and "refused" in lines[0].lower()


def test_a_port_outside_1_to_65535_is_refused():
    from livefeed.cli import app

    for port in ("0", "65536", "-1"):
        result = runner.invoke(app, ["serve", "--port", port])
        assert result.exit_code == 2 and "--port" in result.output


def test_the_readmes_import_example_works_on_the_demo(tmp_path, monkeypatch):
    """README: `livefeed import people docs/examples/leads.csv --workspace "Demo Co"` after `make run`."""
    import asyncio
    from pathlib import Path

    from livefeed.cli import app
    from livefeed.db import migrate as migrations
    from livefeed.db.engine import make_engine
    from livefeed.demo import DEMO_EMAIL, DEMO_WORKSPACE, ensure_demo
    from livefeed.runtime import Runtime
    from livefeed.settings import from_env

    monkeypatch.setenv("LIVEFEED_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("LIVEFEED_DATABASE_URL", raising=False)
    migrations.upgrade(make_engine(from_env().database_url))

    async def demo():  # what `make run` sets up on an empty database
        rt = await Runtime.start(from_env())
        try:
            ensure_demo(rt)
        finally:
            await rt.stop()

    asyncio.run(demo())
    root = Path(__file__).resolve().parent.parent
    assert f'livefeed import people docs/examples/leads.csv --workspace "{DEMO_WORKSPACE}"' in (root / "README.md").read_text()
    example = root / "docs" / "examples" / "leads.csv"
    assert DEMO_EMAIL in example.read_text()
    result = runner.invoke(app, ["import", "people", str(example), "--workspace", DEMO_WORKSPACE])
    assert result.exit_code == 0, result.output


def test_networks_update_adds_a_vendors_list_and_refuses_a_bad_one(tmp_path, monkeypatch):
    from livefeed.cli import app
    from livefeed.pipeline import networks

    monkeypatch.setenv("LIVEFEED_VAR_DIR", str(tmp_path))
    plain = tmp_path / "mimecast.txt"
    plain.write_text("# Mimecast outbound, as published\n205.139.110.0/24\n")
    added = runner.invoke(
        app,
        [
            "networks",
            "update",
            str(plain),
            "--class",
            "scanner",
            "--label",
            "Mimecast",
            "--source",
            "https://community.mimecast.com/s/article/Mimecast-Data-Centers-and-URLs",
        ],
    )
    bad = tmp_path / "bad.txt"
    bad.write_text("205.139.110.0/24\nnonsense\n")
    refused = runner.invoke(app, ["networks", "update", str(bad), "--class", "scanner", "--label", "Mimecast", "--source", "x"])
    listed = runner.invoke(app, ["networks", "list"])
    assert added.exit_code == 0 and "1 network(s) added" in added.output
    assert refused.exit_code == 2 and "line 2" in refused.output
    assert "205.139.110.0/24\tscanner\tMimecast" in listed.output
    assert networks.load(tmp_path).lookup("205.139.110.7").label == "Mimecast"
