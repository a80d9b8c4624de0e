"""Optional OpenTelemetry tracing of GraphQL operations (off by default).

With ``otel_enabled`` the schema gets strawberry's ``OpenTelemetryExtension``
(a span per operation with parse/validate/resolve children), reporting to the
process's global tracer provider: configure the SDK and an exporter as usual,
e.g. by running under ``opentelemetry-instrument``. The packages are not
dependencies of cryptoql; when they are missing, enabling tracing logs one clear
error and the server runs without it rather than refusing to start.
"""

from __future__ import annotations

import logging

from app.settings import Settings
from schema.build import ExtensionFactory

log = logging.getLogger("cryptoql.tracing")


def tracing_extensions(settings: Settings) -> list[ExtensionFactory]:
    if not settings.otel_enabled:
        return []
    try:
        from strawberry.extensions.tracing import OpenTelemetryExtension
    except ImportError as exc:
        log.error(
            "otel_enabled is set but OpenTelemetry is not installed (%s); tracing is OFF. "
            "Install opentelemetry-api and opentelemetry-sdk (plus an exporter) to enable it.",
            exc,
        )
        return []
    log.info("OpenTelemetry tracing of GraphQL operations is on")
    return [OpenTelemetryExtension]
