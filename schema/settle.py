"""The extension that keeps an operation's database work inside the operation.

graphql-core cancels a field's sibling resolvers once a non-null error
propagates, but the dataloader batches they were waiting on run as tasks of
their own and carry on. :class:`SettleLoaders` waits for the request's loader
batches still running before the operation's result is returned
(:meth:`loaders.registry.Loaders.settle`), so no query runs on behalf of a
request that has already been answered, and shutting the app down never
disposes the engine under a connection still in use.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from strawberry.extensions import SchemaExtension

from resolvers.context import Context


class SettleLoaders(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        yield
        context = self.execution_context.context
        loaders = getattr(context, "loaders", None) if isinstance(context, Context) else None
        if loaders is not None:  # contexts built without loaders have nothing to settle
            await loaders.settle()
