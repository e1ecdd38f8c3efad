"""The inspector panel: tokens, candidates stage by stage, timeline, sampling what-if."""

from tokenwise.ui.inspector.panel import InspectorPanel

__all__ = ["InspectorPanel"]
