{%- set c = cookiecutter -%}
"""{{ c.display_name }} against the conformance suite (via its entry point)."""

from __future__ import annotations
{% if c.flavour == 'custom' %}
from typing import Any
{% endif %}
from plugbay.testing.conformance import ProviderConformance
{%- if c.flavour == 'custom' or c.auth != 'bearer' %}
from plugbay.testing.server import {% if c.flavour == 'custom' %}FakeServer, {% endif %}RecordedRequest
{%- endif %}
from plugbay.testing.wire import {{ 'OpenAIWire' if c.flavour == 'openai-compatible' else 'Wire' }}

{% if c.flavour == 'openai-compatible' %}
class {{ c.__class_name }}Wire(OpenAIWire):
    """{{ c.display_name }}'s Chat Completions as its API speaks it.

    TO FILL IN: override what differs from OpenAI's format (error bodies, usage fields,
    extra chunk fields, comment lines), copying shapes from the provider's docs.
    """

    prefix = "{{ c.__url_path }}"
{%- else %}
def todo(step: str, method: str) -> NotImplementedError:
    where = "{{ c.__class_name }}Wire." + method
    return NotImplementedError(f"step {step!r}: {where} is not written")


class {{ c.__class_name }}Wire(Wire):
    """{{ c.display_name }}'s wire format, byte for byte as its API sends it.

    TO FILL IN: each method scripts the fake server with the provider's real response
    shape (from its API reference or a recording), for example::

        server.add("POST", self.chat_path, Reply.json({...}))
        server.add("POST", self.chat_path, Reply.sse([event, ...]))

    with ``from plugbay.testing.replies import Reply``. Until a method is written it
    raises NotImplementedError naming its checklist step.
    """

    prefix = "{{ c.__url_path }}"
    chat_path = prefix + "/chat"  # the plugin's CHAT_PATH under the base URL
    models_path = prefix + "/models"  # the plugin's MODELS_PATH

    def base_url(self, server_url: str) -> str:
        return server_url + self.prefix

    def script_completion(self, server: FakeServer, *, model: str, text: str,
                          usage: dict[str, int]) -> None:
        raise todo("request and response handling", "script_completion")

    def script_stream(self, server: FakeServer, *, model: str, pieces: list[str],
                      usage: dict[str, int]) -> None:
        raise todo("streaming", "script_stream")

    def script_tool_call(self, server: FakeServer, *, model: str, name: str,
                         arguments: dict[str, Any], stream: bool) -> None:
        raise todo("function calling", "script_tool_call")

    def script_error(self, server: FakeServer, *, kind: str, model: str) -> None:
        # kind is a key of plugbay.testing.wire.ERROR_KINDS: answer its status, with the
        # provider's error body and headers (retry-after on rate limits, request ids).
        raise todo("error handling", "script_error")

    def script_models(self, server: FakeServer, ids: list[str]) -> None:
        raise todo("model discovery", "script_models")
{%- endif %}
{%- if c.auth == 'header' %}

    def auth_present(self, request: RecordedRequest, secret: str) -> bool:
        return request.headers.get("{{ c.auth_header | lower }}") == secret
{%- elif c.auth == 'none' %}

    def auth_present(self, request: RecordedRequest, secret: str) -> bool:
        # No auth: the key must never be sent, even when one is configured.
        return all(secret not in value for _, value in request.headers.items())
{%- elif c.flavour == 'custom' %}

    def auth_present(self, request: RecordedRequest, secret: str) -> bool:
        return request.headers.get("authorization") == f"Bearer {secret}"
{%- endif %}


class Test{{ c.__class_name }}Conformance(ProviderConformance):
    provider = "{{ c.provider }}"
    model = "example-model"  # TO FILL IN: one of the provider's real model ids
    wire = {{ c.__class_name }}Wire()
