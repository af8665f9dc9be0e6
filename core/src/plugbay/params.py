"""``ParamLimits``: the parameter ranges a provider accepts, checked before a call.

A plugin declares them as an attribute named ``param_limits`` on its module (or its
plugin object)::

    param_limits = ParamLimits(temperature=(0.0, 1.0))

The core reads it once, when the provider instance is first resolved, and refuses a
request outside a range with one clear ``InvalidRequestError`` before anything is
sent. A provider that declares nothing is not checked here: its API is the judge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plugbay.errors import InvalidRequestError

if TYPE_CHECKING:
    from plugbay.types import Request

__all__ = ["ParamLimits", "limits_of"]


class ParamLimits:
    """Inclusive ``(low, high)`` ranges; ``None`` leaves a parameter unchecked.

    A plain class, not a dataclass: ``dataclasses`` imports ``inspect``, which
    ``from plugbay import Client`` must not pay for (issue 12)."""

    __slots__ = ("temperature", "top_p")

    def __init__(self, temperature: tuple[float, float] | None = None,
                 top_p: tuple[float, float] | None = None) -> None:
        self.temperature = temperature
        self.top_p = top_p

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, ParamLimits) and self.temperature == other.temperature
                and self.top_p == other.top_p)

    def __hash__(self) -> int:
        return hash((self.temperature, self.top_p))

    def __repr__(self) -> str:
        return f"ParamLimits(temperature={self.temperature!r}, top_p={self.top_p!r})"

    def check(self, request: Request, provider: str) -> None:
        """Raise ``InvalidRequestError`` naming the parameter, the value and the range."""
        for name in ("temperature", "top_p"):
            span = getattr(self, name)
            value = getattr(request, name)
            if span is None or value is None:
                continue
            low, high = span
            if not low <= value <= high:
                raise InvalidRequestError(
                    f"{name} {value:g} is outside what {provider} accepts: use a value "
                    f"from {low:g} to {high:g}", provider=provider)


def limits_of(plugin_obj: Any) -> ParamLimits | None:
    """The plugin's declared ``param_limits``, or ``None``."""
    limits = getattr(plugin_obj, "param_limits", None)
    return limits if isinstance(limits, ParamLimits) else None
