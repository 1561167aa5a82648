"""`citytrace serve` and `citytrace db ...`."""

from __future__ import annotations

from typing import Annotated

import typer

from citytrace.db import get_engine

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Bring the configured database to the latest schema."""
    from citytrace.migrations import upgrade

    upgrade(get_engine(), revision)
    typer.echo(f"database at {revision}")


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    demo: Annotated[
        bool, typer.Option("--demo", help="Fill an empty database with the synthetic demo city.")
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Service processes (one per core suits a busy open-data feed; set "
            "CITYTRACE_REDIS_URL so that they share rate limits).",
        ),
    ] = 1,
) -> None:
    """Run the web service (API docs at /docs)."""
    import uvicorn

    from citytrace.api.app import create_app
    from citytrace.config import get_settings
    from citytrace.migrations import upgrade

    engine = get_engine()
    upgrade(engine)
    if demo:
        from citytrace.demo import create_demo_users, load_demo

        loaded = load_demo(engine)
        typer.echo(loaded)
        for username, role, password in create_demo_users(engine):
            typer.echo(f"demo account {username} ({role}), password (shown once): {password}")
    settings = get_settings()
    typer.echo(f"citytrace on http://{host}:{port}/docs (database {engine.url.render_as_string()})")
    typer.echo(f"data in {settings.home}")
    if workers == 1:
        uvicorn.run(create_app(engine), host=host, port=port, log_level="info")
    else:
        # Each worker process builds its own app (and engine) from the same settings.
        uvicorn.run(
            "citytrace.api.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
        )
