"""`citytrace user ...`: accounts and API tokens, for whoever runs the server.

The first administrator is made here. Passwords are read from standard input
(``--password-stdin``) or made up and printed once; tokens are printed once and never stored.
"""

from __future__ import annotations

import secrets
import sys
from typing import Annotated

import typer
from pydantic import SecretStr

from citytrace.auth import service
from citytrace.auth.models import Role
from citytrace.auth.schemas import PASSWORD_MAX, PASSWORD_MIN, UserCreate, UserOut
from citytrace.cli._common import actor, echo_json, session_scope
from citytrace.errors import InputError, from_validation

app = typer.Typer(help="Accounts and API tokens.", no_args_is_help=True)

PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin", help="Read the password from standard input (else one is made up)."
    ),
]


def _password(from_stdin: bool) -> tuple[str, bool]:
    """The password, and whether it was made up here (and must be shown)."""
    if not from_stdin:
        return secrets.token_urlsafe(18), True
    password = sys.stdin.readline().rstrip("\r\n")
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise InputError(
            f"the password needs {PASSWORD_MIN} to {PASSWORD_MAX} characters",
            location="--password-stdin",
        )
    return password, False


@app.command("create")
def create(
    username: Annotated[str, typer.Option(help="Login name: lower-case letters, digits, .-_")],
    role: Annotated[Role, typer.Option(help="What the account may do.")],
    display_name: Annotated[str, typer.Option(help="Name shown in the workspace.")] = "",
    district: Annotated[
        str | None, typer.Option(help="District code of an investigator, e.g. 11140.")
    ] = None,
    clinic: Annotated[str | None, typer.Option(help="Clinic of clinic staff.")] = None,
    password_stdin: PasswordStdin = False,
) -> None:
    """Create an account (the first administrator is made this way)."""
    password, made_up = _password(password_stdin)
    try:
        data = UserCreate(
            username=username.strip().lower(),
            display_name=display_name,
            role=role,
            district_code=district,
            clinic_ref=clinic,
            password=SecretStr(password),
        )
    except ValueError as exc:
        raise from_validation(exc) from None
    with session_scope() as session:
        user = service.create(session=session, actor=actor(), data=data)
        typer.echo(f"user {user.id} {user.username} ({user.role}) created")
    if made_up:
        typer.echo(f"password (shown once, change it after signing in): {password}")


@app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List accounts."""
    with session_scope() as session:
        users = [UserOut.model_validate(u) for u in service.list_(session=session)]
    if as_json:
        echo_json([u.model_dump(mode="json") for u in users])
        return
    for u in users:
        state = "active" if u.active else "inactive"
        scope = u.district_code or u.clinic_ref or "-"
        typer.echo(f"{u.id:>5}  {u.username:<24} {u.role:<19} {scope:<12} {state}")


@app.command("token")
def token(
    username: Annotated[str, typer.Option(help="Whose token.")],
    name: Annotated[str, typer.Option(help="What the token is for.")],
    days: Annotated[
        int | None, typer.Option(min=1, max=3650, help="Days until it expires.")
    ] = None,
) -> None:
    """Make an API token; it is printed once (on standard output) and never again."""
    with session_scope() as session:
        user = service.get_by_username_or_raise(session=session, username=username)
        record, value = service.create_token(
            session=session, actor=actor(), user_id=user.id, name=name[:80], expires_days=days
        )
        typer.echo(
            f"token {record.id} of {user.username}, expires {record.expires_at:%Y-%m-%d}; "
            "send it as 'Authorization: Bearer <token>'",
            err=True,
        )
    typer.echo(value)


@app.command("deactivate")
def deactivate(username: Annotated[str, typer.Option(help="Whose account.")]) -> None:
    """Deactivate an account: its sessions end and its tokens stop working."""
    with session_scope() as session:
        user = service.get_by_username_or_raise(session=session, username=username)
        service.deactivate(session=session, actor=actor(), user_id=user.id)
        typer.echo(f"user {user.username} deactivated")


@app.command("activate")
def activate(username: Annotated[str, typer.Option(help="Whose account.")]) -> None:
    """Activate an account again."""
    with session_scope() as session:
        user = service.get_by_username_or_raise(session=session, username=username)
        service.activate(session=session, actor=actor(), user_id=user.id)
        typer.echo(f"user {user.username} activated")


@app.command("reset-password")
def reset_password(
    username: Annotated[str, typer.Option(help="Whose account.")],
    password_stdin: PasswordStdin = False,
) -> None:
    """Set a new password, lift a lockout and end the account's sessions."""
    password, made_up = _password(password_stdin)
    with session_scope() as session:
        user = service.get_by_username_or_raise(session=session, username=username)
        service.reset_password(session=session, actor=actor(), user_id=user.id, password=password)
        typer.echo(f"password of {user.username} reset")
    if made_up:
        typer.echo(f"password (shown once, change it after signing in): {password}")
