"""OpenAI against the conformance suite, through its installed entry point: Chat
Completions, and the Responses API both chosen automatically and forced by config."""

from typing import Any

from plugbay.testing.conformance import ProviderConformance
from plugbay.testing.server import FakeServer
from plugbay.testing.wire import OpenAIWire, ResponsesWire


class TestOpenAIConformance(ProviderConformance):
    provider = "openai"
    model = "gpt-4o-mini"
    wire = OpenAIWire()


class TestOpenAIResponsesOnlyModelConformance(ProviderConformance):
    """A Responses-only model: the plugin picks /v1/responses with no configuration."""

    provider = "openai"
    model = "gpt-5-pro"
    wire = ResponsesWire()


class TestOpenAIResponsesForcedConformance(ProviderConformance):
    """A chat model sent to /v1/responses because the instance says so."""

    provider = "openai"
    model = "gpt-4o-mini"
    wire = ResponsesWire()

    def provider_options(self, server: FakeServer) -> dict[str, Any]:
        return {**super().provider_options(server), "wire_api": "responses"}
