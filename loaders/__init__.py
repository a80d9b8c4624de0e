"""aiodataloader subclasses, one per (entity, key), built per request.

Each batch opens its own short session: aiodataloader dispatches batches
concurrently, and one AsyncSession must never be shared between them.
"""
