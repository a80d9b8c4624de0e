"""Generators of malformed and hostile GraphQL-over-HTTP requests (seeded, reproducible).

Three sources, mixed by :func:`hostile_requests`:

* the attack table of ``graphql-security.md`` §1.2 (deep nesting, parser bombs,
  alias/field/directive overloading, circular fragments, deep introspection,
  batching, size bombs, bad JSON and bytes, non-finite numbers, int overflow,
  wrong content types, GET mutations, lone surrogates …), each with variations;
* random documents walked from the real schema (random fields, arguments of
  right and wrong types, aliases, fragments, directives, nesting past the limit);
* byte-level mutations of valid bodies and documents (flip, insert, delete,
  duplicate, truncate, splice in odd unicode), hypothesis-style.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
)

GQL = "application/graphql-response+json"
ACCEPTS = [None, "application/json", GQL, "*/*", f"{GQL}, application/json", "text/html", "x/y;q=z"]
ODD = ["\u0000", "\u202e", "\ufeff", "\U0001f600", "\\ud800", "é", "\u2028", "'", '"', "\\", "$"]


@dataclass
class Req:
    method: str
    path: str = "/graphql"
    params: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    label: str = ""


def _json(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def _post(body: bytes, label: str, ctype: str | None = "application/json") -> Req:
    headers = {"content-type": ctype} if ctype else {}
    return Req("POST", headers=headers, content=body, label=label)


def table_case(rng: random.Random) -> Req:
    """One attack class of the reference table, picked at random, with random sizes."""
    n = rng.randint
    fan = "{ assets(first: 100) { edges { node { " * n(8, 30)
    deep_q = "{ " + "a: __typename " + "}"
    cases: list[Callable[[], Req]] = [
        lambda: _post(
            _json({"query": fan + "symbol" + " } } }" * (fan.count("{") // 3) + " }"}), "deep"
        ),
        lambda: _post(_json({"query": "{ asset " + "{ asset " * n(2000, 6000)}), "parser-bomb"),
        lambda: _post(
            _json({"query": "{" + " ".join(f"a{i}: __typename" for i in range(n(16, 1500))) + "}"}),
            "aliases",
        ),
        lambda: _post(_json({"query": "{ " + "__typename " * n(1000, 8000) + "}"}), "field-dup"),
        lambda: _post(_json({"query": "{ __typename" + " @aa" * n(51, 3000) + " }"}), "directives"),
        lambda: _post(
            _json({"query": "{ __typename" + " @include(if: true)" * n(51, 1000) + " }"}),
            "directives-include",
        ),
        lambda: _post(
            _json(
                {
                    "query": "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
                }
            ),
            "circular",
        ),
        lambda: _post(
            _json(
                {
                    "query": "{ __schema { types { fields { type { fields { type { fields "
                    "{ type { name } } } } } } } } }"
                }
            ),
            "deep-introspection",
        ),
        lambda: _post(_json({"query": "{ assst { symbl } }"}), "suggestions"),
        lambda: _post(_json([{"query": "{ __typename }"}] * n(2, 200)), "batch"),
        lambda: _post(
            _json(
                {
                    "query": "query($s: [String!]) { __typename }",
                    "variables": {"s": ["BTC"] * n(5_000, 20_000)},
                }
            ),
            "list-bomb",
        ),
        lambda: _post(
            b'{"query": "{ __typename }'
            + b" " * rng.choice([n(65_000, 200_000), 2_000_000])
            + b'"}',
            "size-bomb",
        ),
        lambda: _post(
            b'{"query": "{ __typename }", "variables": {"v": '
            + b"[" * n(33, 100_000)
            + b"]" * 5
            + b"}}",
            "deep-vars",
        ),
        lambda: _post(b'{"query": "{ __typename ', "truncated-json"),
        lambda: _post(bytes(rng.getrandbits(8) for _ in range(n(1, 300))), "random-bytes"),
        lambda: _post(b'{"query": "{ __typename }\xff\xfe"}', "invalid-utf8"),
        lambda: _post(b'{"query": "{ __typename(x: \\"\\ud800\\") }"}', "lone-surrogate"),
        lambda: _post(_json({"query": "{ __typename }\u0000\u202e"}), "nul-rtl"),
        lambda: _post(b'{"query": "{ __typename }", "variables": {"x": NaN}}', "nan"),
        lambda: _post(b'{"query": "{ __typename }", "variables": {"x": 1e999}}', "inf"),
        lambda: _post(
            _json(
                {
                    "query": "query($n: Int) { assets(first: $n) { totalCount } }",
                    "variables": {"n": 99_999_999_999},
                }
            ),
            "int-overflow",
        ),
        lambda: _post(
            _json({"query": "{ assets(first: 2147483648) { totalCount } }"}), "int-literal"
        ),
        lambda: _post(_json({"query": "{ __typename }"}), "text-plain", ctype="text/plain"),
        lambda: _post(_json({"query": "{ __typename }"}), "no-ctype", ctype=None),
        lambda: _post(b"query=%7B__typename%7D", "form", ctype="application/x-www-form-urlencoded"),
        lambda: _post(
            _json({"query": "{ __typename }"}), "graphql-ctype", ctype="application/graphql"
        ),
        lambda: _post(
            _json({"query": "{ __typename }"}), "latin1", ctype="application/json; charset=latin1"
        ),
        lambda: Req("GET", params={"query": "mutation { __typename }"}, label="get-mutation"),
        lambda: Req(
            "GET", params={"query": "subscription { __typename }"}, label="get-subscription"
        ),
        lambda: Req(
            "GET", params={"query": "{ __typename }", "variables": "[" * 64}, label="get-vars"
        ),
        lambda: Req(
            "GET", params={"extensions": '{"persistedQuery":{"sha256Hash":"00"}}'}, label="apq"
        ),
        lambda: Req(
            "GET", params={"query": "{ __typename }" + " " * n(1000, 60_000)}, label="get-long"
        ),
        lambda: _post(_json({"query": "query A { __typename } query B { __typename }"}), "two-ops"),
        lambda: _post(_json({"query": "{ __typename }", "operationName": "Nope"}), "bad-opname"),
        lambda: _post(_json({"query": "{ __typename }", "operationName": 17}), "opname-type"),
        lambda: _post(_json({"query": "subscription { __typename }"}), "post-subscription"),
        lambda: _post(_json({"query": 5}), "query-type"),
        lambda: _post(_json(["a", 1, None]), "array-junk"),
        lambda: _post(b"null", "null"),
        lambda: _post(b"", "empty"),
        lambda: _post(b"\xef\xbb\xbf" + _json({"query": "{ __typename }"}), "bom"),
        lambda: _post(_json({"query": deep_q * n(1, 3)}), "weird-concat"),
        lambda: Req(
            rng.choice(["PUT", "DELETE", "PATCH", "OPTIONS"]), content=b"{}", label="method"
        ),
        lambda: Req(
            "GET",
            path=rng.choice(["/", "/graphql/", "/static/graphiql/../x", "/%00", "/metrics"]),
            label="path",
        ),
    ]
    return rng.choice(cases)()


class SchemaWalker:
    """Random documents from the real schema: valid, nearly valid and over the limits."""

    def __init__(self, schema: GraphQLSchema, rng: random.Random) -> None:
        self.schema = schema
        self.rng = rng

    def document(self) -> str:
        query = self.schema.query_type
        assert query is not None
        body = self._selection(query, depth=0, max_depth=self.rng.choice([3, 6, 9, 12, 16]))
        if self.rng.random() < 0.2:
            return f"query Fuzz{self.rng.randint(0, 999)} {body}"
        return body

    def _selection(self, typ: Any, depth: int, max_depth: int) -> str:
        rng = self.rng
        if isinstance(typ, GraphQLUnionType):
            member = rng.choice(typ.types)
            return (
                f"{{ __typename ... on {member.name} {self._selection(member, depth, max_depth)} }}"
            )
        fields = list(typ.fields.items())
        picked = rng.sample(fields, k=min(len(fields), rng.randint(1, 4)))
        parts = []
        for name, fld in picked:
            alias = f"x{rng.randint(0, 99)}: " if rng.random() < 0.15 else ""
            args = self._args(fld.args)
            directive = " @include(if: true)" if rng.random() < 0.1 else ""
            named = _named(fld.type)
            sub = ""
            if isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType):
                if depth >= max_depth:
                    sub = "{ __typename }"
                else:
                    sub = self._selection(named, depth + 1, max_depth)
            parts.append(f"{alias}{name}{args}{directive} {sub}".strip())
        return "{ " + " ".join(parts) + " }"

    def _args(self, args: dict[str, Any]) -> str:
        chosen = [
            f"{n}: {self._value(a.type, 0)}"
            for n, a in args.items()
            if isinstance(a.type, GraphQLNonNull) or self.rng.random() < 0.5
        ]
        if self.rng.random() < 0.05:
            chosen.append("bogus: 1")
        return f"({', '.join(chosen)})" if chosen else ""

    def _value(self, typ: Any, depth: int) -> str:
        rng = self.rng
        if rng.random() < 0.07:  # the wrong type on purpose
            return rng.choice(['"x"', "1", "true", "null", "[1]", "{a: 1}", "9999999999999", "-1"])
        if isinstance(typ, GraphQLNonNull):
            return self._value(typ.of_type, depth)
        if isinstance(typ, GraphQLList):
            items = [self._value(typ.of_type, depth + 1) for _ in range(rng.randint(0, 4))]
            return "[" + ", ".join(items) + "]"
        if isinstance(typ, GraphQLEnumType):
            return rng.choice(list(typ.values))
        if isinstance(typ, GraphQLInputObjectType):
            if depth > 3:
                return "{}"
            fields = [
                f"{n}: {self._value(f.type, depth + 1)}"
                for n, f in typ.fields.items()
                if isinstance(f.type, GraphQLNonNull) or rng.random() < 0.4
            ]
            return "{" + ", ".join(fields) + "}"
        if isinstance(typ, GraphQLScalarType):
            return self._scalar(typ.name)
        return "null"

    def _scalar(self, name: str) -> str:
        rng = self.rng
        if name == "Int":
            return str(
                rng.choice([0, 1, 10, 100, 250, 251, -5, 2**31, rng.randint(-(10**6), 10**6)])
            )
        if name == "Float":
            return rng.choice(["0.5", "-1e308", "1e400", "3.14"])
        if name == "Boolean":
            return rng.choice(["true", "false"])
        if name == "DateTime":
            return json.dumps(
                rng.choice(["2024-01-01T00:00:00Z", "2999-01-01T00:00:00+00:00", "yesterday", ""])
            )
        text = rng.choice(
            ["BTC", "bitcoin", "eth", "", "a" * 300, "Q" + "".join(rng.sample(ODD, 3))]
        )
        return json.dumps(text)


def _named(typ: Any) -> Any:
    while isinstance(typ, GraphQLNonNull | GraphQLList):
        typ = typ.of_type
    return typ


def mutate(data: bytes, rng: random.Random) -> bytes:
    """A few random byte edits (the classic dumb-fuzzer operators)."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(6)
        pos = rng.randrange(len(buf) + 1)
        if op == 0 and buf:
            buf[min(pos, len(buf) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1:
            buf[pos:pos] = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 8)))
        elif op == 2:
            del buf[pos : pos + rng.randint(1, 16)]
        elif op == 3 and buf:
            start = rng.randrange(len(buf))
            buf[pos:pos] = buf[start : start + rng.randint(1, 64)] * rng.randint(1, 20)
        elif op == 4:
            buf[pos:pos] = rng.choice(ODD).encode("utf-8", "surrogatepass")
        else:
            buf = buf[: rng.randint(0, len(buf))]
    return bytes(buf)


def hostile_requests(count: int, schema: GraphQLSchema, seed: int) -> list[Req]:
    rng = random.Random(seed)
    walker = SchemaWalker(schema, rng)
    out: list[Req] = []
    while len(out) < count:
        roll = rng.random()
        if roll < 0.35:
            req = table_case(rng)
        elif roll < 0.5:
            req = _post(_json({"query": walker.document()}), "walk")
        elif roll < 0.75:
            doc = walker.document().encode()
            req = _post(
                b'{"query": ' + _json(mutate(doc, rng).decode("utf-8", "replace")) + b"}",
                "mutated-doc",
            )
        elif roll < 0.95:
            body = _json({"query": walker.document(), "variables": {"v": [1, "x", None]}})
            req = _post(mutate(body, rng), "mutated-body")
        else:
            req = Req("GET", params={"query": walker.document()}, label="walk-get")
        accept = rng.choice(ACCEPTS)
        if accept:
            req.headers = {**req.headers, "accept": accept}
        if rng.random() < 0.05:
            req.headers = {**req.headers, "x-request-id": rng.choice(["ok-1", "bad id", "x" * 500])}
        out.append(req)
    return out


def raw_http_cases(rng: random.Random, host: str) -> list[bytes]:
    """Malformed HTTP itself (sent on a fresh connection each, half-closed after)."""
    body = b'{"query": "{ __typename }"}'
    h = f"Host: {host}\r\n".encode()
    return [
        b"GARBAGE\r\n\r\n",
        bytes(rng.getrandbits(8) for _ in range(200)) + b"\r\n\r\n",
        b"GET /graphql HTTP/1.1\r\n" + h + b"Bad Header Line\r\n\r\n",
        b"GET /graphql HTTP/1.1\r\n" + h + b"X-Nul: a\x00b\r\n\r\n",
        b"POST /graphql HTTP/1.1\r\n" + h + b"Content-Type: application/json\r\n"
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST /graphql HTTP/1.1\r\n" + h + b"Content-Type: application/json\r\n"
        b"Content-Length: -1\r\n\r\n" + body,
        b"POST /graphql HTTP/1.1\r\n" + h + b"Content-Type: application/json\r\n"
        b"Content-Length: 99999999999\r\n\r\n" + body,
        b"POST /graphql HTTP/1.1\r\n" + h + b"Content-Type: application/json\r\n"
        b"Content-Length: 500\r\n\r\n" + body,  # then EOF: the client leaves mid-body
        b"POST /graphql HTTP/1.1\r\n" + h + b"Content-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nzz\r\n" + body + b"\r\n0\r\n\r\n",
        b"POST /graphql HTTP/1.1\r\n" + h + b"Content-Type: application/json\r\n"
        b"Expect: 100-continue\r\nContent-Length: 100000\r\n\r\n",
        b"FOO /graphql HTTP/1.1\r\n" + h + b"\r\n",
        b"GET /graphql?query=%ZZ HTTP/1.1\r\n" + h + b"\r\n",
        b"GET /gr\xffaphql HTTP/1.1\r\n" + h + b"\r\n",
        b"GET /graphql?query="
        + b"a" * rng.randint(70_000, 200_000)
        + b" HTTP/1.1\r\n"
        + h
        + b"\r\n",
        b"GET /graphql HTTP/1.1\r\n" + h + b"X-Big: " + b"a" * 100_000 + b"\r\n\r\n",
        b"GET /healthz HTTP/1.0\r\n\r\n",
        (
            b"POST /graphql HTTP/1.1\r\n" + h + b"Content-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body) + body
        )
        * 3,  # pipelined
    ]
