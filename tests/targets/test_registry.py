"""Every built-in target is registered and follows the class contract the config reads."""

from __future__ import annotations

import inspect

import pytest

import targets
from targets import conductance, spiking, timeseries, tuning

OURS = {cls.__name__ for m in (spiking, tuning, conductance, timeseries) for cls in m.TARGETS}

NINE = ["SpontActivityTarget", "IrregularityTarget", "SynchronyTarget",
        "OrientationTuningPreferenceTarget", "OrientationTuningOrthoHighTarget",
        "OrientationTuningOrthoLowTarget", "SizeTuning", "ConductanceRatio", "ModulationRatio"]


def test_mozaik_targets_and_extras_registered():
    assert set(NINE + ["PopulationRateTarget", "TimeSeriesTarget", "PSDBandTarget"]) <= set(
        targets.REGISTRY)


@pytest.mark.parametrize("name", sorted(OURS))
def test_class_contract(name):
    cls = targets.resolve_target_class(name)
    assert cls.kind in targets.KINDS
    params = inspect.signature(cls.__init__).parameters
    assert "sheet_name" in params
    for pname, p in params.items():
        if pname != "self":
            assert p.default is not inspect.Parameter.empty, f"{name}.{pname} has no default"
    assert cls.__doc__ and len(cls.__doc__) > 40
    if name in NINE:
        assert cls.needs_sheet


def test_user_class_by_import_path():
    cls = targets.resolve_target_class("targets.spiking:SpontActivityTarget")
    assert cls is targets.REGISTRY["SpontActivityTarget"]
