"""The ``cryptoql`` command line.

Each subcommand explains itself with ``--help``. Settings come from the
environment (see the README's configuration table) and, optionally, from a
file given with ``--env-file``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from app.settings import Settings

SCHEMA_FILE = Path("schema.graphql")

Handler = Callable[[argparse.Namespace], int]


def _settings(args: argparse.Namespace) -> Settings:
    env_file = getattr(args, "env_file", None)
    if env_file:
        return Settings(_env_file=env_file)  # type: ignore[call-arg]
    return Settings()


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = _settings(args)
    host = args.host or settings.host
    port = args.port or settings.port
    workers = args.workers or settings.workers
    if args.env_file:
        os.environ["CRYPTOQL_ENV_FILE"] = str(args.env_file)
    uvicorn.run(
        "app.asgi:app",
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        proxy_headers=True,
        timeout_keep_alive=5,
        ws_max_size=1 << 20,
    )
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from storage import migrate

    settings = _settings(args)
    migrate.upgrade(settings.effective_database_url, args.revision)
    print(f"database at revision {args.revision}")
    return 0


def cmd_export_schema(args: argparse.Namespace) -> int:
    from schema.build import build_schema

    sdl = build_schema().as_str().rstrip() + "\n"
    target: Path = args.output
    if args.check:
        current = target.read_text() if target.exists() else ""
        if current != sdl:
            print(
                f"{target} is out of date; run `cryptoql export-schema` and commit it",
                file=sys.stderr,
            )
            return 1
        print(f"{target} matches the code")
        return 0
    if str(target) == "-":
        sys.stdout.write(sdl)
    else:
        target.write_text(sdl)
        print(f"wrote {target} ({len(sdl.splitlines())} lines)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cryptoql",
        description=(
            "cryptoql: one GraphQL endpoint for crypto prices, trading signals and "
            "on-chain data. Settings are read from the environment (CRYPTOQL_*, "
            "DATABASE_URL, REDIS_URL) or from --env-file."
        ),
    )
    parser.add_argument("--env-file", type=Path, help="read settings from this KEY=VALUE file")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("serve", help="serve the API (GraphQL, GraphiQL, health, metrics)")
    p.add_argument("--host", help="bind address (default: CRYPTOQL_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: CRYPTOQL_PORT or 8000)")
    p.add_argument("--workers", type=int, help="worker processes (default: CRYPTOQL_WORKERS or 1)")
    p.set_defaults(handler=cmd_serve)

    p = sub.add_parser("migrate", help="create or upgrade the database schema (Alembic)")
    p.add_argument("--revision", default="head", help="target revision (default: head)")
    p.set_defaults(handler=cmd_migrate)

    p = sub.add_parser("export-schema", help="write the GraphQL SDL (schema.graphql)")
    p.add_argument("-o", "--output", type=Path, default=SCHEMA_FILE, help="file, or - for stdout")
    p.add_argument("--check", action="store_true", help="fail if the file differs from the code")
    p.set_defaults(handler=cmd_export_schema)

    from app.cli_keys import register as register_keys  # API keys (docs/keys.md)

    register_keys(sub, _settings)

    from app.cli_ingest import register as register_ingest  # ingest, backfill, import

    register_ingest(sub, _settings)

    from app.cli_persisted import register as register_persisted  # trusted documents

    register_persisted(sub, _settings)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    return handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
