"""The process-wide components the lifespan starts, in order (see ``app.lifespan``).

Add a component by appending its factory here; each owning layer keeps its
factory next to its code (``app/<thing>.py``).
"""

from __future__ import annotations

from app.lifespan import Component

COMPONENTS: list[Component] = []
