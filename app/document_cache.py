"""Parse and validate a known document once, not on every request.

Strawberry parses and validates every operation from scratch, and for a
dashboard query that is a sizeable share of the time an answer takes. Clients
send the same few documents again and again (persisted queries by design), so
this process keeps:

* the parsed ``DocumentNode`` per document text and parse options (the token
  limit), in an LRU bounded in entries and in text size. A document that does
  not parse is not cached: the parser runs again and reports the error as usual;
* the fact that a parsed document passed a check (:func:`known_passed`): validation
  with exactly this tuple of validation rules, or the structural limits of
  ``app.limits`` with exactly these limits. The rule tuple is part of the key
  because it differs per caller: the scope rule class depends on the API key's
  scopes and the introspection rule on the caller, and both are stable classes
  (one per scope set), so the key hits. Only successes are remembered; failing
  documents are checked again, so no shared error object is ever handed to two
  requests.

Parsed documents are shared between requests; nothing in the request path
mutates an AST (the cost dry run builds a new document instead). The response
cache (``app.response_cache``) parses through :func:`parse_document` too, so a
document is parsed once for both.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Hashable, Iterator, Mapping
from typing import Any

from graphql import DocumentNode, parse
from strawberry.extensions import SchemaExtension

#: parsed documents kept (each is the AST of one distinct document text)
MAX_DOCUMENTS = 512
#: total characters of document text behind the kept ASTs (an AST is ~10x its text)
MAX_TEXT_CHARS = 4 * 1024 * 1024
#: (check, document) pairs known to pass
MAX_PASSED = 2048

ParseKey = tuple[str, tuple[tuple[str, Any], ...]]

_parsed: OrderedDict[ParseKey, DocumentNode] = OrderedDict()
_text_chars = 0
_passed: OrderedDict[tuple[Hashable, int], DocumentNode] = OrderedDict()


def _options_key(options: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(options.items())) if options else ()


def parse_document(text: str, options: Mapping[str, Any] | None = None) -> DocumentNode:
    """``graphql.parse`` through the shared LRU (raises ``GraphQLError`` like ``parse``)."""
    global _text_chars
    key = (text, _options_key(options or {}))
    found = _parsed.get(key)
    if found is not None:
        _parsed.move_to_end(key)
        return found
    document = parse(text, **(options or {}))
    if len(text) <= MAX_TEXT_CHARS // 8:
        _parsed[key] = document
        _text_chars += len(text)
        while len(_parsed) > MAX_DOCUMENTS or _text_chars > MAX_TEXT_CHARS:
            (old_text, _), _doc = _parsed.popitem(last=False)
            _text_chars -= len(old_text)
    return document


def known_passed(check: Hashable, document: DocumentNode) -> bool:
    """Whether ``document`` (this very object) passed ``check`` before."""
    key = (check, id(document))
    found = _passed.get(key)
    if found is document:  # identity: an id reused by another object is not a hit
        _passed.move_to_end(key)
        return True
    return False


def remember_passed(check: Hashable, document: DocumentNode) -> None:
    _passed[(check, id(document))] = document
    while len(_passed) > MAX_PASSED:
        _passed.popitem(last=False)


def known_valid(schema: object, document: DocumentNode, rules: tuple[type, ...]) -> bool:
    return known_passed(("valid", id(schema), rules), document)


def remember_valid(schema: object, document: DocumentNode, rules: tuple[type, ...]) -> None:
    remember_passed(("valid", id(schema), rules), document)


def clear() -> None:
    """Forget everything (tests)."""
    global _text_chars
    _parsed.clear()
    _passed.clear()
    _text_chars = 0


class DocumentCache(SchemaExtension):
    """Skips parsing and validation for documents seen before (register as a class)."""

    def on_parse(self) -> Iterator[None]:
        ec = self.execution_context
        if ec.graphql_document is None and ec.query:
            # a document that does not parse: strawberry parses again and reports the error
            with contextlib.suppress(Exception):
                ec.graphql_document = parse_document(ec.query, ec.parse_options)
        yield

    def on_validate(self) -> Iterator[None]:
        ec = self.execution_context
        document = ec.graphql_document
        schema = ec.schema._schema
        rules = tuple(ec.validation_rules)
        skipped = False
        known = document is not None and ec.pre_execution_errors is None
        if known and document is not None and known_valid(schema, document, rules):
            ec.pre_execution_errors = []
            skipped = True
        yield
        if not skipped and document is not None and ec.pre_execution_errors == []:
            remember_valid(schema, document, rules)


__all__ = [
    "DocumentCache",
    "clear",
    "known_passed",
    "known_valid",
    "parse_document",
    "remember_passed",
]
