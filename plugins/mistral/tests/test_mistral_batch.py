"""Mistral batch jobs (Files + /v1/batch/jobs) against the batch conformance suite."""

from plugbay.testing.batch_conformance import BatchConformance
from plugbay.testing.batch_fakes import MistralBatchFake


class TestMistralBatch(BatchConformance):
    provider = "mistral"
    model = "mistral-small-2506"  # priced (the -latest alias is not)
    fake = MistralBatchFake
