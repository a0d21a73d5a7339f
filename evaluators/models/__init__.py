"""Simulators that ship with simtune (pure NumPy), used by the built-in evaluators.

``v1_sheet``: a conductance-based LIF model of a V1 layer-4 sheet that runs mozaik's optimisation
protocol in seconds (``evaluator: {kind: v1_sheet}``).
"""

__all__ = ["v1_sheet"]
