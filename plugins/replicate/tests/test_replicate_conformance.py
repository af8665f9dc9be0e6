"""Replicate against the conformance suite, through its installed entry point."""

from __future__ import annotations

from typing import Any

from plugbay.testing.conformance import ProviderConformance
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer, RecordedRequest
from plugbay.testing.wire import ERROR_KINDS, Wire

PID = "jp9nrd1g2hrj20cjb2vrb55mkr"


def prediction(server: FakeServer, model: str, status: str, output: Any = None,
               usage: dict[str, int] | None = None) -> dict[str, Any]:
    """A prediction object as the API returns it, with urls pointing at the fake server."""
    base = f"{server.url}/v1/predictions/{PID}"
    out: dict[str, Any] = {
        "id": PID, "model": model, "version": "dp-a557b7387b4940df25b23f779dc534c4",
        "input": {"prompt": "..."}, "logs": "", "output": output, "data_removed": False,
        "error": None, "status": status, "created_at": "2024-10-04T18:07:33.396Z",
        "urls": {"cancel": f"{base}/cancel", "get": base,
                 "stream": f"{server.url}/v1/streams/b4yonjrmynb65tnkucuqc4dua",
                 "web": f"https://replicate.com/p/{PID}"}}
    if usage:
        out["metrics"] = {"predict_time": 0.42, "total_time": 0.5,
                          "input_token_count": usage["input"],
                          "output_token_count": usage["output"],
                          "tokens_per_second": 55.1, "time_to_first_token": 0.05}
    return out


class ReplicateWire(Wire):
    """Predictions as Replicate runs them: create (201, Prefer: wait), token-array output,
    text-only SSE on ``urls.stream`` ending in ``event: done``, ``problem+json`` errors."""

    def base_url(self, server_url: str) -> str:
        return server_url + "/v1"

    def create_path(self, model: str) -> str:
        return f"/v1/models/{model}/predictions"

    def script_completion(self, server: FakeServer, *, model: str, text: str,
                          usage: dict[str, int]) -> None:
        tokens = [text[i:i + 4] for i in range(0, len(text), 4)] + [""]
        server.add("POST", self.create_path(model), Reply.json(
            prediction(server, model, "succeeded", tokens, usage), status=201,
            headers={"Preference-Applied": "wait"}))

    def script_stream(self, server: FakeServer, *, model: str, pieces: list[str],
                      usage: dict[str, int]) -> None:
        server.add("POST", self.create_path(model), Reply.json(
            prediction(server, model, "starting"), status=201))
        events = [": hi\n\n"]
        events += [f"event: output\nid: 1690212292:{i}\ndata: {p}\n\n"
                   for i, p in enumerate(pieces)]
        events.append("event: done\ndata: {}\n\n")
        server.add("GET", "/v1/streams/b4yonjrmynb65tnkucuqc4dua", Reply.sse(events))
        server.add("GET", f"/v1/predictions/{PID}", Reply.json(
            prediction(server, model, "succeeded", pieces, usage)))

    def script_stream_frame(self, server: FakeServer, *, model: str, frame: bytes) -> None:
        # The stream itself is plain text; its one JSON message is the created prediction.
        server.add("POST", self.create_path(model), Reply.raw(frame, "application/json",
                                                              status=201))

    def script_error(self, server: FakeServer, *, kind: str, model: str) -> None:
        status = ERROR_KINDS[kind][0]
        title, detail = {
            "auth": ("Unauthenticated", "You did not pass a valid authentication token"),
            "not_found": ("Not found", "The requested resource could not be found."),
            "rate_limit": ("Request was throttled.", "Request was throttled. Expected "
                                                    "available in 2 seconds."),
            "overloaded": ("Service Unavailable", "The service is temporarily overloaded."),
        }.get(kind, ("Internal Server Error", "Something went wrong."))
        headers = {"retry-after": "2"} if kind == "rate_limit" else None
        server.add("POST", self.create_path(model), Reply.text(
            f'{{"title":"{title}","detail":"{detail}","status":{status}}}\n',
            content_type="application/problem+json", status=status, headers=headers))

    def script_models(self, server: FakeServer, ids: list[str]) -> None:
        models = [{"url": f"https://replicate.com/{i}", "owner": i.split("/")[0] if "/" in i
                   else "replicate", "name": i.split("/")[-1], "description": "a model",
                   "visibility": "public", "run_count": 1,
                   "latest_version": {"id": "a" * 64}} for i in ids]
        server.add("GET", "/v1/collections/language-models", Reply.json({
            "name": "Language models", "slug": "language-models", "models": models}))
        server.add("GET", "/v1/account", Reply.json({"type": "user", "username": "fake",
                                                     "name": "Fake"}))

    def auth_present(self, request: RecordedRequest, secret: str) -> bool:
        return request.headers.get("authorization") == f"Bearer {secret}"


class TestReplicateConformance(ProviderConformance):
    provider = "replicate"
    model = "meta/meta-llama-3-8b-instruct"
    wire = ReplicateWire()
    supports_tools = False  # predictions have no tool calling
    supports_cached_usage = False  # metrics carry no cache counters
