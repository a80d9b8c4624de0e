"""``cryptoql persisted``: manage the trusted-documents manifest.

The manifest (``persisted_manifest``, or ``--manifest``) is a JSON object
``{"<sha256 of the document>": "<document>"}``. A client sends either the hash
(``extensions.persistedQuery``) or the identical document text, so register
the exact text the client sends (what its build step prints)::

    cryptoql persisted add dashboard.graphql ticker.graphql
    cryptoql persisted add --from-apollo persisted-query-manifest.json
    cryptoql persisted list

A running server re-reads the file within a second of a change; a file that
does not load (bad JSON, a hash that does not match its document) is refused
here and, at run time, logged while the last good manifest stays in force.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.persisted import load_manifest, sha256_of
from app.settings import Settings

SettingsFactory = Callable[[argparse.Namespace], Settings]


def _manifest_path(args: argparse.Namespace, settings: Settings) -> Path:
    path = args.manifest or settings.persisted_manifest
    if not path:
        raise SystemExit("no manifest: pass --manifest or set CRYPTOQL_PERSISTED_MANIFEST")
    return Path(path)


def _write_atomically(path: Path, documents: dict[str, str]) -> None:
    """Readers (a running server) never see a half-written file."""
    text = json.dumps(dict(sorted(documents.items())), indent=2, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    path = _manifest_path(args, settings)
    documents = load_manifest(path) if path.exists() else {}
    added: dict[str, str] = {}
    for source in args.files:
        if args.from_apollo:
            added.update(load_manifest(Path(source)))
        else:
            text = Path(source).read_text(encoding="utf-8")
            added[sha256_of(text)] = text
    new = {h: d for h, d in added.items() if h not in documents}
    documents.update(added)
    _write_atomically(path, documents)
    for digest in new:
        print(digest)
    print(f"{len(new)} added, {len(documents)} in {path}", file=sys.stderr)
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    path = _manifest_path(args, settings)
    for digest, document in load_manifest(path).items():
        first = " ".join(document.split())[:70]
        print(f"{digest}  {first}")
    return 0


def register(sub: Any, settings_factory: SettingsFactory) -> None:
    """Add ``persisted`` and its subcommands to the ``cryptoql`` parser."""
    top = sub.add_parser(
        "persisted",
        help="manage trusted documents (the persisted-query manifest)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    psub = top.add_subparsers(dest="persisted_command", required=True, metavar="ACTION")

    def handler(fn: Callable[[argparse.Namespace, Settings], int]) -> Callable[..., int]:
        return lambda args: fn(args, settings_factory(args))

    p = psub.add_parser("add", help="register documents (one per file) in the manifest")
    p.add_argument("files", nargs="+", help="document files (exact text the client sends)")
    p.add_argument(
        "--from-apollo",
        action="store_true",
        help="the files are manifests ({hash: document} or Apollo's format) to merge",
    )
    p.add_argument("--manifest", help="manifest file (default: CRYPTOQL_PERSISTED_MANIFEST)")
    p.set_defaults(handler=handler(cmd_add))

    p = psub.add_parser("list", help="print the registered hashes and documents")
    p.add_argument("--manifest", help="manifest file (default: CRYPTOQL_PERSISTED_MANIFEST)")
    p.set_defaults(handler=handler(cmd_list))


__all__ = ["register"]
