"""`citytrace keys ...`: the encryption keys and the hash key, and their rotation without downtime.

Rotation with keys in the settings: put a new key first in ``CITYTRACE_KEYS`` on every instance
of the service, keeping the old ones after it (`citytrace keys generate` makes one), restart them
one by one, run `citytrace keys rotate`, and remove an old key once `citytrace keys status` shows
no data under it. In development (keys in ``keys.json``) `citytrace keys rotate` adds the new key
itself, and running services pick it up without a restart.
"""

from __future__ import annotations

from typing import Annotated

import typer

from citytrace.cli._common import actor, session_scope
from citytrace.errors import ConflictError

app = typer.Typer(help="Encryption keys and the hash key.", no_args_is_help=True)


@app.command("status")
def status() -> None:
    """How many identities and stored files are sealed under each key."""
    from citytrace.evidence.service import UNSEALED
    from citytrace.security import rotation
    from citytrace.security.keys import get_keyring

    keyring = get_keyring()
    with session_scope() as session:
        uses = rotation.status(session=session, keyring=keyring)
    typer.echo(f"{'key id':<28} {'identities':>10} {'files':>8}  state")
    for u in uses:
        state = (
            "current"
            if u.current
            else "old"
            if u.in_keyring
            else "not sealed yet: run `citytrace keys rotate`"
            if u.key_id == UNSEALED
            else "MISSING from the keyring"
        )
        typer.echo(f"{u.key_id:<28} {u.identities:>10} {u.files:>8}  {state}")
    if keyring.old_hash_keys:
        typer.echo(
            f"hash keys: the current one and {len(keyring.old_hash_keys)} old, still recognised "
            "(`citytrace keys rehash`, then remove the old ones)"
        )


@app.command("rotate")
def rotate(
    batch_size: Annotated[int, typer.Option(min=1, help="Rows or files per transaction.")] = 200,
) -> None:
    """Re-seal everything under the current key, in batches; running it again resumes.

    If everything is already under the current key, a new key is added first (in development's
    keys.json; with keys in the settings, put the new key first in CITYTRACE_KEYS instead).
    """
    from citytrace.db import get_engine, session_factory
    from citytrace.migrations import upgrade
    from citytrace.security import rotation
    from citytrace.security.keys import add_file_key, get_keyring, uses_keys_file

    engine = get_engine()
    upgrade(engine)
    keyring = get_keyring()
    with session_factory(engine)() as session:
        left = rotation.pending(session=session, keyring=keyring)
        session.rollback()
        if left:
            typer.echo(
                f"resuming: {left} identities and files are not under key {keyring.current_id}"
            )
        elif uses_keys_file():
            key_id = add_file_key()
            keyring = get_keyring()
            typer.echo(f"new current key {key_id} added to keys.json; the old ones are kept")
        else:
            typer.echo(
                f"everything is under the current key {keyring.current_id}: to rotate, put a new "
                "key first in CITYTRACE_KEYS (keeping the old ones after it) on every instance of "
                "the service, then run this again"
            )
            return

        def progress(result: rotation.RotationResult) -> None:
            typer.echo(f"  {result.identities} identities, {result.files} files re-sealed")

        result = rotation.rotate(
            session=session,
            keyring=keyring,
            actor=actor(),
            batch_size=batch_size,
            on_batch=progress,
        )
    typer.echo(
        f"done: {result.identities} identities and {result.files} files re-sealed under "
        f"{result.key_id} in {result.batches} batches"
    )
    if result.still_old:
        typer.echo(f"still under old keys (written meanwhile? run again): {result.still_old}")
    else:
        unused = [k for k in keyring.ids if k != keyring.current_id]
        if unused:
            typer.echo(
                f"no data is under {', '.join(unused)} any more: remove them "
                "(`citytrace keys retire KEY_ID`, or from CITYTRACE_KEYS)"
            )


@app.command("retire")
def retire(key_id: str) -> None:
    """Remove an old key from keys.json, once no data is sealed under it."""
    from citytrace.security import rotation
    from citytrace.security.keys import get_keyring, remove_file_key, uses_keys_file

    keyring = get_keyring()
    with session_scope() as session:
        uses = {u.key_id: u for u in rotation.status(session=session, keyring=keyring)}
    use = uses.get(key_id)
    if use is not None and use.identities + use.files:
        raise ConflictError(
            f"key {key_id!r} still seals {use.identities} identities and {use.files} files: "
            "run `citytrace keys rotate` first"
        )
    if not uses_keys_file():
        typer.echo(f"no data is under {key_id}: remove it from CITYTRACE_KEYS")
        return
    remove_file_key(key_id)
    typer.echo(f"key {key_id} removed from keys.json")


@app.command("rehash")
def rehash(
    new_key: Annotated[
        bool,
        typer.Option(
            "--new-key", help="First add a new current hash key (development's keys.json)."
        ),
    ] = False,
    retire_old: Annotated[
        bool,
        typer.Option(
            "--retire-old",
            help="Afterwards drop the old hash keys from keys.json (access codes, QR codes and "
            "page links made with them stop working).",
        ),
    ] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Rows per transaction.")] = 200,
) -> None:
    """Make every keyed hash that can be made again (phone and resident numbers) with the current
    hash key, in batches; running it again resumes.

    To rotate the hash key: put a new key first in CITYTRACE_HASH_KEY, keeping the old one after
    it (``NEW,OLD``), on every instance of the service; run this; then remove the old key once
    the bookings made before are over (their access codes, QR codes and page links are checked
    against the old key too, and an access code is hashed again when it is next used). In
    development, ``--new-key`` adds the new key to keys.json itself.
    """
    from citytrace.db import get_engine, session_factory
    from citytrace.migrations import upgrade
    from citytrace.security import rotation
    from citytrace.security.keys import (
        add_file_hash_key,
        get_keyring,
        retire_file_hash_keys,
        uses_keys_file,
    )

    if (new_key or retire_old) and not uses_keys_file():
        raise ConflictError(
            "--new-key and --retire-old change development's keys.json; with keys in the "
            "settings, put the new key first in CITYTRACE_HASH_KEY (NEW,OLD) instead"
        )
    if new_key:
        count = add_file_hash_key()
        typer.echo(f"new current hash key added to keys.json ({count - 1} old kept after it)")
    engine = get_engine()
    upgrade(engine)
    keyring = get_keyring()

    def progress(result: rotation.RehashResult) -> None:
        typer.echo(
            f"  {result.identities + result.bookings} rows read, {result.changed} hashed again"
        )

    with session_factory(engine)() as session:
        result = rotation.rehash(
            session=session,
            keyring=keyring,
            actor=actor(),
            batch_size=batch_size,
            on_batch=progress,
        )
    typer.echo(
        f"done: {result.identities} identities and {result.bookings} bookings read, "
        f"{result.changed} hashes made again with the current hash key"
    )
    if retire_old:
        typer.echo(f"{retire_file_hash_keys()} old hash keys removed from keys.json")
    elif keyring.old_hash_keys:
        typer.echo(
            f"{len(keyring.old_hash_keys)} old hash keys are still recognised: remove them once "
            "the bookings made before the new key are over"
        )


@app.command("generate")
def generate() -> None:
    """Print new values for CITYTRACE_KEYS (one key) and CITYTRACE_HASH_KEY.

    To rotate, put the new key before the existing ones in CITYTRACE_KEYS (then `citytrace keys
    rotate`), or a new hash key before the current one in CITYTRACE_HASH_KEY (then `citytrace
    keys rehash`).
    """
    from citytrace.security.keys import generate_settings

    keys, hash_key = generate_settings()
    typer.echo(f"CITYTRACE_KEYS={keys}")
    typer.echo(f"CITYTRACE_HASH_KEY={hash_key}")
