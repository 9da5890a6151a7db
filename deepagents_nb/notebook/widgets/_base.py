"""What every widget view shares: it wraps an ipywidgets container and displays as it."""

from __future__ import annotations

from typing import Any

# Widgets wrap ipywidgets containers instead of subclassing them: the classes are
# untyped, and composition keeps our public surface small and `mypy --strict` clean.

ERROR_COLOR = "#b91c1c"
MUTED_COLOR = "#6b7280"
FONT = "font-family:system-ui,sans-serif;font-size:13px"


class WidgetView:
    """Base of the notebook views: `widget` is the ipywidgets container to show."""

    widget: Any

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        # `display(view)` and a cell ending in `view` both show the live widget. The text
        # form replaces ipywidgets' recursive repr, which changes with every event and
        # would make saved notebooks (and nbval) differ from run to run.
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        bundle["text/plain"] = self._text()
        return bundle

    def _text(self) -> str:
        """What a plain-text frontend shows instead of the widget."""
        return f"<{type(self).__name__}>"
