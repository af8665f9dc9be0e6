"""The pydantic schema of ``plugbay.toml``: loaded only when there is a table to validate.

``plugbay.config`` imports this module on first use, so a ``Client`` with no config
file never imports pydantic for its configuration.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ByteSize, ConfigDict, Field

from plugbay.http.models import Limits

__all__ = ["ConfigSchema", "HTTPSettings", "PriceOverride", "ProviderConfig"]

Size = Annotated[ByteSize, Field(gt=0)]  # 1048576, "1 MiB" or "1MB"


class ProviderConfig(BaseModel):
    """One provider instance. Unknown keys are plugin options and are kept."""

    model_config = ConfigDict(extra="allow")

    plugin: str | None = None
    api_key: str | None = Field(default=None, repr=False)
    base_url: str | None = None
    timeout: float | None = None
    max_body: Size | None = None  # this instance's response limits (default: [http])
    max_event: Size | None = None


class HTTPSettings(BaseModel):
    """``[http]``: what one response may hold in memory, for every provider instance."""

    model_config = ConfigDict(extra="forbid")

    max_body: Size | None = None
    max_event: Size | None = None

    def limits(self) -> Limits:
        return Limits(**{k: int(v) for k, v in self.model_dump(exclude_none=True).items()})


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
    http: HTTPSettings = Field(default_factory=HTTPSettings)
    source: str | None = None
