"""A model that computes its own features: the smallest complete simtune model.

A leaky neuron's firing rate and its coefficient of variation as closed-form functions of two
parameters, with a little seeded noise -- the kind of number MyoGen, CompNeuroPy and hnn-core
users compute in their own code. The function returns them as plain numbers; ``ValueTarget``
scores them (``toy_values.yaml``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

import numpy as np


def simulate(parameters: Mapping[str, float], out_dir: Path, seed: int) -> dict[str, float]:
    """Rate (Hz) and CV of a noisy leaky integrate-and-fire neuron (a smooth caricature)."""
    drive, noise = parameters["drive_nA"], parameters["noise_nA"]
    rng = np.random.default_rng(seed)
    rate = 40.0 * math.log1p(math.exp(4.0 * (drive - 0.5))) + rng.normal(0.0, 0.2)
    cv = noise / (noise + 0.5 * drive + 0.05) + rng.normal(0.0, 0.01)
    return {"rate": rate, "cv": cv}
