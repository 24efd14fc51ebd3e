"""`imagebio serve`: the web dashboard (FastAPI + uvicorn), and `imagebio serve add-user` to grant access."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from imagebio.cli._groups import default_group

app = typer.Typer(
    cls=default_group("start"),
    help="Web dashboard: browse subjects, view images, review results (default bind 127.0.0.1).",
    no_args_is_help=False,
    invoke_without_command=True,
)

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Store: an SQLite file path or any SQLAlchemy URL (default: $IMAGEBIO_DB or ./imagebio.db)."),
]


@app.callback()
def _serve(ctx: typer.Context) -> None:
    """Web dashboard: `imagebio serve [--db URL] [--host 127.0.0.1] [--port 8000]`."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(start)


@app.command("start")
def start(
    db: DbOption = None,
    host: Annotated[str, typer.Option("--host", help="Interface to bind; 127.0.0.1 keeps it on this machine.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8000,
    secret_key_file: Annotated[
        Path | None,
        typer.Option("--secret-key-file", help="File with the session-signing key (default $IMAGEBIO_WEB_SECRET or random).",
                     exists=True, dir_okay=False),
    ] = None,
    https_only: Annotated[bool, typer.Option("--https-only", help="Secure cookies (behind an HTTPS proxy).")] = False,
) -> None:
    """Start the dashboard server."""
    import uvicorn

    from imagebio.cli._console import console
    from imagebio.web.app import create_app

    secret = secret_key_file.read_text().strip() if secret_key_file else None
    application = create_app(db, secret_key=secret, https_only=https_only)
    if host not in ("127.0.0.1", "localhost", "::1"):
        console.print(f"[yellow]warning:[/] listening on {host}: reachable from other machines; use HTTPS in front.")
    console.print(f"imagebio dashboard on http://{host}:{port}/ (store {application.state.store.display_url})",
                  highlight=False)
    uvicorn.run(application, host=host, port=port, log_level="info", server_header=False)


@app.command("add-user")
def add_user_command(
    name: Annotated[str, typer.Argument(help="Login name (not a patient identifier).")],
    role: Annotated[str, typer.Option("--role", help="viewer, analyst or admin.")] = "viewer",
    project: Annotated[list[str] | None, typer.Option("--project", help="Project granted (repeatable; '*' = all).")] = None,
    password: Annotated[
        str,
        typer.Option("--password", prompt=True, hide_input=True, confirmation_prompt=True, envvar="IMAGEBIO_WEB_PASSWORD",
                     help="Password (prompted when not given; or $IMAGEBIO_WEB_PASSWORD)."),
    ] = "",
    db: DbOption = None,
) -> None:
    """Create a dashboard user (or update the password, role and grants of an existing one)."""
    from imagebio.cli._console import console
    from imagebio.store import open_store
    from imagebio.web.security import add_user

    store = open_store(db)
    try:
        with store.session() as session:
            user = add_user(session, name, password, role, project or ())
            grants = sorted(g.project for g in user.grants)
            console.print(f"user {user.username} ({user.role}) can see projects: {', '.join(grants) or 'none'}",
                          highlight=False)
    finally:
        store.close()


def serve_demo(out: Path, host: str = "127.0.0.1", port: int = 8000, open_browser: bool = True) -> None:
    """Serve a finished `imagebio demo` folder: for `imagebio demo --serve`.

    Creates (or resets) the user ``demo`` (analyst, all projects) with a fresh random password printed on the
    console, starts the dashboard on ``out/imagebio.db`` and opens the browser at the login page.
    """
    import secrets
    import threading
    import webbrowser

    import uvicorn

    from imagebio.cli._console import console
    from imagebio.store import open_store
    from imagebio.web.app import create_app
    from imagebio.web.security import add_user

    store = open_store(Path(out) / "imagebio.db")
    password = secrets.token_urlsafe(12)
    with store.session() as session:
        add_user(session, "demo", password, "analyst", ["*"])
    application = create_app(store)
    url = f"http://{host}:{port}/login"
    console.print(f"dashboard: {url}  user: demo  password: {password}", highlight=False)
    if open_browser:
        threading.Timer(1.5, webbrowser.open, args=(url,)).start()
    uvicorn.run(application, host=host, port=port, log_level="info", server_header=False)
