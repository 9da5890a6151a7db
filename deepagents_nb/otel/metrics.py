"""The GenAI client metrics: tokens per request and seconds per operation."""

from __future__ import annotations

from typing import Any

from deepagents_nb import __version__
from deepagents_nb.otel import conventions as c

# The bucket boundaries the conventions advise for each histogram.
TOKEN_BUCKETS = [4.0**n for n in range(14)]
SECOND_BUCKETS = [0.01 * 2**n for n in range(14)]


class GenAIMetrics:
    """`gen_ai.client.token.usage` and `gen_ai.client.operation.duration` histograms."""

    def __init__(self, meter_provider: Any) -> None:
        meter = meter_provider.get_meter("deepagents_nb", __version__)
        self.tokens = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        )
        self.duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=SECOND_BUCKETS,
        )

    def record_chat(self, attributes: dict[str, Any], seconds: float) -> None:
        common = {
            key: attributes[key]
            for key in (c.OPERATION, c.PROVIDER, c.REQUEST_MODEL, c.RESPONSE_MODEL)
            if key in attributes
        }
        self.tokens.record(attributes[c.INPUT_TOKENS], {**common, c.TOKEN_TYPE: "input"})
        self.tokens.record(attributes[c.OUTPUT_TOKENS], {**common, c.TOKEN_TYPE: "output"})
        self.duration.record(seconds, common)
