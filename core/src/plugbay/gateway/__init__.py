"""The plugbay gateway: an OpenAI- and Anthropic-compatible server (docs/gateway.md)."""
