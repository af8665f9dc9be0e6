"""OpenAI's Batch API (Files + /v1/batches) against the batch conformance suite."""

from plugbay.testing.batch_conformance import BatchConformance
from plugbay.testing.batch_fakes import OpenAIBatchFake


class TestOpenAIBatch(BatchConformance):
    provider = "openai"
    model = "gpt-4o-mini"
    fake = OpenAIBatchFake
