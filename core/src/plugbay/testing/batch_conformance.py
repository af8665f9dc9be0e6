"""The batch conformance suite every plugin with the batch hooks subclasses.

::

    class TestOpenAIBatch(BatchConformance):
        provider = "openai"
        model = "gpt-4o-mini"
        fake = OpenAIBatchFake          # speaks the provider's batch wire
        price_prefix = "/v1"            # where the fake's routes live under base_url

Every test runs ``plugbay.batch.jobs`` against the fake over real sockets, with a
real SQLite ledger, and checks the lines (mapped back to ``custom_id``), the
per-item errors, the job states and the ledger rows at the batch price.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

import plugbay
from plugbay import errors
from plugbay.batch import jobs
from plugbay.testing.batch_fakes import USAGE, BatchFake, BatchScenario, answer_for
from plugbay.testing.server import FakeServer

Client = plugbay.Client

__all__ = ["BatchConformance"]

IDS = ["a-1", "b-2", "c-3", "d-4"]


class BatchConformance:
    provider: ClassVar[str]
    model: ClassVar[str]
    fake: ClassVar[type[BatchFake]]
    secret: ClassVar[str] = "sk-batch-SECRET-5d1e"
    # a job the provider can fail as a whole after accepting it (Anthropic rejects at create)
    supports_failed_job: ClassVar[bool] = True

    def base_url(self, server: FakeServer) -> str:
        return f"{server.url}/v1"

    def provider_options(self, server: FakeServer) -> dict[str, Any]:
        return {"api_key": self.secret, "base_url": self.base_url(server)}

    def install(self, fake: BatchFake, server: FakeServer) -> None:
        fake.install(server)

    @pytest.fixture
    def server(self) -> Iterator[FakeServer]:
        with FakeServer() as srv:
            yield srv

    @pytest.fixture
    async def client(self, server: FakeServer, tmp_path: Path) -> AsyncIterator[plugbay.Client]:
        options = self.provider_options(server)
        # a second instance of the same plugin, for the mixed-providers test
        other = {"plugin": self.provider, **options}
        config = {"providers": {self.provider: options, f"{self.provider}-b": other},
                  "routing": {"retries": 0}, "ledger": {"path": str(tmp_path / "l.db")}}
        client = plugbay.Client(config, env={})
        try:
            yield client
        finally:
            await client.aclose()

    def items(self, ids: list[str] = IDS) -> list[dict[str, Any]]:
        return [{"custom_id": i, "body": {"model": f"{self.provider}/{self.model}",
                                          "messages": [{"role": "user", "content": f"q {i}"}],
                                          "max_tokens": 50}} for i in ids]

    async def run(self, client: plugbay.Client, server: FakeServer, scenario: BatchScenario,
                  ) -> tuple[BatchFake, str, list[dict[str, Any]], jobs.JobSummary]:
        fake = self.fake(scenario)
        self.install(fake, server)
        job_id = await jobs.submit(client, self.items())
        lines: list[dict[str, Any]] = []
        summary = await jobs.wait(client, job_id, lines.append, done_ids=set(),
                                  interval=0.001, max_interval=0.002)
        return fake, job_id, lines, summary

    def batch_rows(self, client: plugbay.Client, job_id: str) -> list[Any]:
        assert client.ledger is not None
        return [r for r in client.ledger.fetch() if (r.tags or {}).get("batch_job") == job_id]

    # ------------------------------------------------------------ the tests

    async def test_results_mapped_to_custom_id_at_batch_price(
            self, client: Client, server: FakeServer) -> None:
        fake, job_id, lines, summary = await self.run(client, server, BatchScenario(polls=2))
        assert job_id.startswith(f"{self.provider}:")
        assert fake.submits == 1 and sorted(fake.items) == sorted(IDS)
        assert summary.job.state == "completed" and summary.written == len(IDS)
        by_id = {line["custom_id"]: line for line in lines}
        assert sorted(by_id) == sorted(IDS)
        for cid, line in by_id.items():
            body = line["response"]["body"]
            assert body["object"] == "chat.completion"
            assert body["choices"][0]["message"]["content"] == answer_for(cid)
            assert line["error"] is None and line["plugbay"]["batch"] is True
        price = client.price(f"{self.provider}/{self.model}")
        assert price is not None and price.batch is not None and 0 < price.batch < 1
        assert price.input is not None and price.output is not None
        full = (USAGE["input"] * price.input + USAGE["output"] * price.output) / 1e6
        for line in lines:
            assert line["plugbay"]["cost"] == pytest.approx(full * price.batch)
        rows = self.batch_rows(client, job_id)
        assert sorted(r.tags["custom_id"] for r in rows) == sorted(IDS)
        assert all(r.cost == pytest.approx(full * price.batch) for r in rows)
        assert all(r.tags["batch"] == "true" and r.input_tokens == USAGE["input"]
                   for r in rows)

    async def test_partly_failed_job_gives_per_item_errors(
            self, client: Client, server: FakeServer) -> None:
        _, job_id, lines, summary = await self.run(
            client, server, BatchScenario(fail={"b-2", "d-4"}))
        by_id = {line["custom_id"]: line for line in lines}
        assert sorted(by_id) == sorted(IDS) and summary.failed == 2
        for cid in ("b-2", "d-4"):
            assert by_id[cid]["response"] is None
            assert by_id[cid]["error"]["code"] and by_id[cid]["error"]["message"]
        for cid in ("a-1", "c-3"):
            assert by_id[cid]["error"] is None
        rows = {r.tags["custom_id"]: r for r in self.batch_rows(client, job_id)}
        assert rows["b-2"].status == "error" and rows["b-2"].cost == 0
        assert rows["a-1"].status == "ok" and rows["a-1"].cost

    async def test_expired_job_returns_what_ran(self, client: Client, server: FakeServer) -> None:
        _, _, lines, summary = await self.run(
            client, server, BatchScenario(final="expired", unrun={"c-3", "d-4"}))
        assert summary.job.state == "expired"
        by_id = {line["custom_id"]: line for line in lines}
        assert by_id["a-1"]["error"] is None and by_id["b-2"]["error"] is None
        for cid in ("c-3", "d-4"):
            assert by_id[cid]["response"] is None and "expire" in (
                by_id[cid]["error"]["code"] + by_id[cid]["error"]["message"]).lower()

    async def test_rerun_writes_and_records_nothing_twice(
            self, client: Client, server: FakeServer) -> None:
        _, job_id, lines, _ = await self.run(client, server, BatchScenario())
        done = {line["custom_id"] for line in lines[:2]}
        again: list[dict[str, Any]] = []
        summary = await jobs.wait(client, job_id, again.append, done_ids=done, interval=0.001)
        assert sorted(x["custom_id"] for x in again) == sorted(set(IDS) - done)
        assert summary.skipped == 2
        rows = self.batch_rows(client, job_id)
        assert sorted(r.tags["custom_id"] for r in rows) == sorted(IDS)

    async def test_status_and_cancel(self, client: Client, server: FakeServer) -> None:
        fake = self.fake(BatchScenario(polls=100))
        self.install(fake, server)
        job_id = await jobs.submit(client, self.items())
        st = await jobs.status(client, job_id)
        assert st.state == "in_progress" and st.counts.total in (0, len(IDS))
        assert job_id in str(st)
        after = await jobs.cancel(client, job_id)
        assert after.state in ("cancelling", "cancelled") and fake.cancelled
        assert (await jobs.status(client, job_id)).state in ("cancelling", "cancelled")

    async def test_failed_job_reports_why(self, client: Client, server: FakeServer) -> None:
        if not self.supports_failed_job:
            pytest.skip(f"{self.provider} never fails an accepted job as a whole")
        fake = self.fake(BatchScenario(final="failed", polls=0))
        self.install(fake, server)
        job_id = await jobs.submit(client, self.items())
        lines: list[dict[str, Any]] = []
        summary = await jobs.wait(client, job_id, lines.append, done_ids=set(), interval=0.001)
        assert summary.job.state == "failed" and summary.written == 0
        assert summary.job.error

    async def test_mixed_providers_rejected(
            self, client: Client, server: FakeServer) -> None:
        items = self.items()
        items[1]["body"]["model"] = f"{self.provider}-b/{self.model}"  # another instance
        with pytest.raises(errors.PluginError, match="one provider") as info:
            await jobs.submit(client, items)
        assert "\n" not in str(info.value) and "b-2" in str(info.value)

    async def test_crash_while_writing_then_rerun_loses_and_repeats_nothing(
            self, client: Client, server: FakeServer) -> None:
        fake = self.fake(BatchScenario(fail={"c-3"}))
        self.install(fake, server)
        job_id = await jobs.submit(client, self.items())
        out: list[dict[str, Any]] = []

        def dies_on_third(line: dict[str, Any]) -> None:
            if len(out) == 2:
                raise KeyboardInterrupt  # the process stops mid-fetch
            out.append(line)

        with pytest.raises(KeyboardInterrupt):
            await jobs.wait(client, job_id, dies_on_third, done_ids=set(), interval=0.001)
        done = {line["custom_id"] for line in out}
        await jobs.wait(client, job_id, out.append, done_ids=done, interval=0.001)
        assert sorted(line["custom_id"] for line in out) == sorted(IDS)  # each once
        rows = self.batch_rows(client, job_id)
        assert sorted(r.tags["custom_id"] for r in rows) == sorted(IDS)  # each once
        assert fake.submits == 1
