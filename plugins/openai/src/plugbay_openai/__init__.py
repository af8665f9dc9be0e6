"""OpenAI for plugbay: Chat Completions and the Responses API, chosen per model.

Models OpenAI serves only on ``/v1/responses`` (``gpt-5-pro``, the codex models, ...) go
there automatically; ``wire_api = "chat" | "responses"`` (or a table by model id) forces
a choice. Both paths share the key, headers, errors and prices (see
``plugbay.openai_compat.dual``).
"""

from __future__ import annotations

from plugbay.context import ProviderContext
from plugbay.embeddings import EmbedLimits
from plugbay.openai_compat import ResponsesCapable
from plugbay.openai_compat.batch import OpenAIBatchAPI
from plugbay.openai_compat.embed import OpenAIEmbeddings
from plugbay.openai_compat.tokens import OpenAITokenCounter
from plugbay.params import ParamLimits


class OpenAI(OpenAITokenCounter, OpenAIEmbeddings, OpenAIBatchAPI, ResponsesCapable):
    name = "openai"
    default_base_url = "https://api.openai.com/v1"
    # Reasoning models reject max_tokens; every current model accepts this one.
    max_tokens_field = "max_completion_tokens"
    price_package = __name__
    embed_base64_wire = True  # as OpenAI's SDK does: a quarter of the bytes, no float parsing

    def extra_headers(self, ctx: ProviderContext) -> dict[str, str]:
        headers = {}
        org = ctx.setting("organization", "OPENAI_ORG_ID")
        project = ctx.setting("project", "OPENAI_PROJECT_ID")
        if org:
            headers["OpenAI-Organization"] = org
        if project:
            headers["OpenAI-Project"] = project
        return headers


# The ranges the API accepts (OpenAI's API reference: temperature 0 to 2, top_p 0 to 1);
# a request outside them is refused before it is sent.
param_limits = ParamLimits(temperature=(0.0, 2.0), top_p=(0.0, 1.0))

# /v1/embeddings: at most 2048 inputs a request, each at most 8192 tokens, 300,000 tokens
# in all (OpenAI's API reference for `input`, read 2026-12-04).
embed_limits = EmbedLimits(batch=2048, max_input_tokens=8192, batch_tokens=300_000)

plugin_api = 1  # the plugbay plugin API this plugin was built for (docs/hooks.md)
plugin = OpenAI()
complete, stream, list_models, price, health = plugin.hookimpls()
batch_submit, batch_poll, batch_results, batch_cancel = plugin.batch_hookimpls()
embed = plugin.embed
count_tokens = plugin.count_tokens  # local, with tiktoken
token_counter = "local"  # cheap: budgets and the context-window check use it per call
