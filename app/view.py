"""The GraphQL view: strawberry's ASGI view with our context."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from app.context import build_context
from resolvers.context import Context


class CryptoQLView(GraphQL[Context, None]):
    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        return build_context(request, response)

    async def get_root_value(self, request: Request | WebSocket) -> None:
        return None
