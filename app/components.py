"""The process-wide components the lifespan starts, in order (see ``app.lifespan``).

Add a component by appending its factory here; each owning layer keeps its
factory next to its code (``app/<thing>.py``).
"""

from __future__ import annotations

from app.auth import keys_component
from app.broker import broker_component
from app.cost_glue import cost_component
from app.ingest_component import ingest_component
from app.lifespan import Component
from app.persisted import persisted_component
from app.response_cache import response_cache_component

COMPONENTS: list[Component] = []

# Query cost: analysis config + per-caller budgets (memory or Redis) as services["cost"].
# Before the broker, so it is closed after it: the broker's subscription meter charges
# what delivered events still owe through services["cost"] when it shuts down.
COMPONENTS.append(cost_component)

# The broker next: later components (ingest) publish through services["broker"].
COMPONENTS.append(broker_component)

# API keys: authenticator, key cache + Redis invalidation, audit writer (docs/keys.md).
COMPONENTS.append(keys_component)

# Ingest: real sources or the simulated market, as a background task (docs/ingest.md).
COMPONENTS.append(ingest_component)

# Persisted queries (APQ store, trusted documents) and the response cache, which reads
# the data versions from services["broker"] (docs/caching.md).
COMPONENTS.append(persisted_component)
COMPONENTS.append(response_cache_component)
