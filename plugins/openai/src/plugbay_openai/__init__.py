"""OpenAI (Chat Completions) for plugbay: the reference plugin on the shared base."""

from __future__ import annotations

from plugbay.context import ProviderContext
from plugbay.openai_compat import OpenAICompatible


class OpenAI(OpenAICompatible):
    name = "openai"
    default_base_url = "https://api.openai.com/v1"
    # Reasoning models reject max_tokens; every current model accepts this one.
    max_tokens_field = "max_completion_tokens"
    price_package = __name__

    def extra_headers(self, ctx: ProviderContext) -> dict[str, str]:
        headers = {}
        org = ctx.setting("organization", "OPENAI_ORG_ID")
        project = ctx.setting("project", "OPENAI_PROJECT_ID")
        if org:
            headers["OpenAI-Organization"] = org
        if project:
            headers["OpenAI-Project"] = project
        return headers


plugin = OpenAI()
complete, stream, list_models, price, health = plugin.hookimpls()
