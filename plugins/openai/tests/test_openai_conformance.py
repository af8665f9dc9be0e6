"""OpenAI against the conformance suite, through its installed entry point."""

from plugbay.testing.conformance import ProviderConformance
from plugbay.testing.wire import OpenAIWire


class TestOpenAIConformance(ProviderConformance):
    provider = "openai"
    model = "gpt-4o-mini"
    wire = OpenAIWire()
