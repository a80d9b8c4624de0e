"""The extension that keeps an operation's database work inside the operation.

graphql-core cancels a field's sibling resolvers once a non-null error
propagates, but the dataloader batches they were waiting on run as tasks of
their own and carry on. :class:`SettleLoaders` waits for the request's loader
batches still running before the operation's result is returned
(:meth:`loaders.registry.Loaders.settle`), so no query runs on behalf of a
request that has already been answered, and shutting the app down never
disposes the engine under a connection still in use. When the operation
itself is cancelled (the request timed out), its batches are cancelled too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from strawberry.extensions import SchemaExtension

from resolvers.context import Context


class SettleLoaders(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        loaders = getattr(context, "loaders", None) if isinstance(context, Context) else None
        if loaders is None:  # contexts built without loaders have nothing to settle
            yield
            return
        try:
            yield
        except (asyncio.CancelledError, Exception):
            # Cancelled (the request timed out or the client went away) or failed:
            # stop the batches still running for it, then let the error go on.
            await loaders.settle(cancel=True)
            raise
        await loaders.settle()
