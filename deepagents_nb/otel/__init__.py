"""Agent runs as OpenTelemetry traces, in the GenAI semantic conventions.

    from deepagents_nb.otel import OpenTelemetryBroadcaster

    agent.add_broadcaster(OpenTelemetryBroadcaster())   # the global tracer provider
    agent = create_deep_agent(..., tracing=True)         # the same, as a keyword

Needs `pip install "deepagents-nb[otel]"` (the OpenTelemetry API and SDK), which
only this package imports. Modules: `broadcaster` (events to spans), `conventions`
(the attribute names and values), `ids` (span ids a resumed run in another
process can link to), `metrics` (token and duration histograms).
"""

from __future__ import annotations

from deepagents_nb.persistence._lazy import optional_dependency

with optional_dependency("deepagents_nb.otel", "otel"):
    from deepagents_nb.otel.broadcaster import OpenTelemetryBroadcaster

__all__ = ["OpenTelemetryBroadcaster"]
