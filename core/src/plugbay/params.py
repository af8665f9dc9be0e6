"""``ParamLimits``: the parameter ranges a provider accepts, checked before a call.

A plugin declares them as an attribute named ``param_limits`` on its module (or its
plugin object)::

    param_limits = ParamLimits(temperature=(0.0, 1.0))

The core reads it once, when the provider instance is first resolved, and refuses a
request outside a range with one clear ``InvalidRequestError`` before anything is
sent. A provider that declares nothing is not checked here: its API is the judge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from plugbay.errors import InvalidRequestError

if TYPE_CHECKING:
    from plugbay.types import Request

__all__ = ["ParamLimits", "limits_of"]


@dataclass(frozen=True, slots=True)
class ParamLimits:
    """Inclusive ``(low, high)`` ranges; ``None`` leaves a parameter unchecked."""

    temperature: tuple[float, float] | None = None
    top_p: tuple[float, float] | None = None

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
