"""The pydantic schema of ``plugbay.toml``: loaded only when there is a table to validate.

``plugbay.config`` imports this module on first use, so a ``Client`` with no config
file never imports pydantic for its configuration.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ConfigSchema", "PriceOverride", "ProviderConfig"]


class ProviderConfig(BaseModel):
    """One provider instance. Unknown keys are plugin options and are kept."""

    model_config = ConfigDict(extra="allow")

    plugin: str | None = None
    api_key: str | None = Field(default=None, repr=False)
    base_url: str | None = None
    timeout: float | None = None


class PriceOverride(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None
    reasoning: float | None = None
    currency: str = "USD"
    as_of: str | None = None
    source: str = "plugbay.toml"


class PluginsSchema(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enable: list[str] | None = None
    disable: list[str] = Field(default_factory=list)


class ConfigSchema(BaseModel):
    """The file's shape; ``plugbay.config.Config`` holds the validated result."""

    model_config = ConfigDict(extra="allow")

    timeout: float | None = None
    plugins: PluginsSchema = Field(default_factory=PluginsSchema)
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    prices: dict[str, PriceOverride] = Field(default_factory=dict)
    source: str | None = None
