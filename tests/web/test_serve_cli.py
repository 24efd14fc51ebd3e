"""`imagebio serve`: the default command starts uvicorn on 127.0.0.1, `serve add-user` creates a user."""

from __future__ import annotations

import subprocess
import sys

import pytest

from imagebio.cli.main import main


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


def test_serve_defaults_to_loopback_and_routes_options_to_start(tmp_path, monkeypatch, capsys):
    import uvicorn

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(kwargs, app=app))
    code, out, _ = run_cli(["serve", "--db", str(tmp_path / "s.db"), "--port", "8765"], capsys)
    assert code == 0 and seen["host"] == "127.0.0.1" and seen["port"] == 8765
    assert "127.0.0.1:8765" in out
    seen.clear()
    code, _, _ = run_cli(["serve", "--db", str(tmp_path / "s.db")], capsys)
    assert code == 0 and (seen["host"], seen["port"]) == ("127.0.0.1", 8000)
    assert "/api/subjects" in seen["app"].openapi()["paths"]


def test_add_user_then_log_in(tmp_path, monkeypatch, capsys):
    from fastapi.testclient import TestClient

    from imagebio.web.app import create_app
    from tests.web.conftest import csrf_from

    db = str(tmp_path / "users.db")
    monkeypatch.setenv("IMAGEBIO_WEB_PASSWORD", "a good long password")
    code, out, _ = run_cli(["serve", "add-user", "reader", "--role", "analyst", "--project", "trial", "--db", db],
                           capsys)
    assert code == 0 and "reader (analyst)" in out and "trial" in out
    code, _, err = run_cli(["serve", "add-user", "x", "--role", "boss", "--db", db], capsys)
    assert code == 2 and "role" in err
    with TestClient(create_app(db, secret_key="k" * 40)) as client:
        token = csrf_from(client.get("/login").text)
        r = client.post("/login", data={"username": "reader", "password": "a good long password", "csrf_token": token},
                        follow_redirects=False)
        assert r.status_code == 303
        assert client.get("/api/me").json() == {"username": "reader", "role": "analyst", "projects": ["trial"]}
        assert client.get("/api/subjects").json()["total"] == 0


def test_serve_help_and_light_cli_import():
    result = subprocess.run([sys.executable, "-m", "imagebio.cli.main", "serve", "--help"], capture_output=True,
                            text=True, check=True)
    assert "add-user" in result.stdout and "start" in result.stdout
    code = ("import sys, imagebio.cli.main, imagebio.cli.serve; "
            "print(','.join(m for m in ('fastapi', 'uvicorn', 'argon2', 'sqlalchemy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""
    # Response code and the migration use these modules: they must not load the web server stack.
    code = ("import sys, imagebio.store.review, imagebio.store.overrides, imagebio.web.security; "
            "print(','.join(m for m in ('fastapi', 'starlette', 'uvicorn', 'argon2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""
