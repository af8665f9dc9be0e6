"""Anthropic Message Batches against the batch conformance suite."""

from plugbay.testing.batch_conformance import BatchConformance
from plugbay.testing.batch_fakes import AnthropicBatchFake
from plugbay.testing.server import FakeServer


class TestAnthropicBatch(BatchConformance):
    provider = "anthropic"
    model = "claude-haiku-4-5"
    fake = AnthropicBatchFake
    supports_failed_job = False  # a bad batch is refused at create time (a 400), not failed

    def base_url(self, server: FakeServer) -> str:
        return server.url  # the plugin's paths start with /v1
