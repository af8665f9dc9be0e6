"""Gemini Batch Mode (inline requests) against the batch conformance suite."""

from plugbay.testing.batch_conformance import BatchConformance
from plugbay.testing.batch_fakes import GeminiBatchFake
from plugbay.testing.server import FakeServer


class TestGeminiBatch(BatchConformance):
    provider = "gemini"
    model = "gemini-2.5-flash"
    fake = GeminiBatchFake

    def base_url(self, server: FakeServer) -> str:
        return f"{server.url}/v1beta"


class KeylessFake(GeminiBatchFake):
    echo_keys = False


class TestGeminiBatchWithoutEchoedKeys(TestGeminiBatch):
    """Responses without ``metadata.key``: mapped back through the input order."""

    fake = KeylessFake
