"""The python evaluator's contract: every accepted return form, and a loud error for the rest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evaluators.datastore import DataStore
from evaluators.python_call import write_returned
from orchestrator import load_results
from orchestrator.cli import main

WRONG_MODEL = '''
import numpy as np

def simulate(parameters, out_dir, seed):
    r = 10.0 * parameters["a"]
    return {"rate": np.array([r])}      # an array where a number belongs
'''


def test_a_wrongly_shaped_return_is_an_evaluator_error_naming_the_key(write_config,
                                                                      tmp_path: Path,
                                                                      capsys) -> None:
    """The new user's first mistake: the run stops after the first generation, every
    evaluation recorded as evaluator_error naming the key -- not 'best total score: 20'."""
    (tmp_path / "wrong_model.py").write_text(WRONG_MODEL)
    cfg = write_config(targets=[{"class": "ValueTarget", "value": "rate",
                                 "target_value": 5.0, "norm": 1.0}],
                       evaluator={"function": "wrong_model:simulate"})
    assert main(["run", str(cfg), "--run-dir", str(tmp_path / "run"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "failed with reason evaluator_error" in err
    assert "returned key 'rate' (an array of shape (1,))" in err
    df = load_results(tmp_path / "run")
    assert (df.reason == "evaluator_error").all()
    assert df.detail.str.contains("a mapping of names to numbers").all()


@pytest.mark.parametrize(("returned", "message"), [
    ({"timeseries": {}, "spikez": {}}, "returned key 'spikez'"),
    ({"rate": 1.0, "timeseries": {}}, "returned key 'rate' (float 1.0)"),
    ({"values": {"rate": [1.0]}}, "returned values['rate']: expected a number, found list"),
    ({"values": {"a/b": 1.0}}, "expected names without '/'"),
    ({"spikes": {"exc": [[1.0, np.nan]]}}, "returned spikes['exc'][0]: expected finite"),
    ({"spikes": {"exc": [[1.0, 1500.0]]}}, "in [0, duration_ms=1000)"),
    ({"spikes": {"exc": [[[1.0, 2.0]]]}}, "returned spikes['exc'][0]: expected a 1-D array"),
    ({"spikes": {"exc": 3.0}}, "expected a list with one array of spike times per neuron"),
    ({"timeseries": {"v": ([0.0, 1.0], [1.0])}}, "two 1-D arrays of one length"),
    ({"timeseries": {"v": [0.0, 1.0, 2.0]}}, "expected (times, values)"),
    ({"duration_ms": -5.0, "spikes": {}}, "returned duration_ms: expected a number > 0"),
    ({"explosion": "yes"}, "returned explosion: expected true or false"),
])
def test_every_broken_return_names_what_is_wrong(tmp_path: Path, returned, message) -> None:
    from evaluators import EvaluatorError

    with pytest.raises(EvaluatorError) as info:
        write_returned(returned, tmp_path / "ds.h5", {"a": 1.0}, 0)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "ds.h5").exists()  # nothing half-written


def test_every_accepted_form_is_stored(tmp_path: Path) -> None:
    path = write_returned({"rate": 12.5, "cv": np.float32(0.75)}, tmp_path / "a.h5", {}, 1)
    with DataStore(path) as s:
        assert sorted(s.value_names()) == ["cv", "rate"] and s.value("rate") == 12.5
    t = np.arange(5.0)
    path = write_returned({"values": {"loss": 0.5}, "timeseries": {"dipole": (t, 2 * t)},
                           "spikes": {"exc": [[3.0, 1.0], []]}, "duration_ms": 50.0,
                           "explosion": np.bool_(True)}, tmp_path / "b.h5", {"a": 2.0}, 3)
    with DataStore(path) as s:
        assert s.value("loss") == 0.5 and s.exploded
        np.testing.assert_array_equal(s.timeseries("dipole")[1], 2 * t)
        times, offsets = s.spikes(0, "exc")
        assert times.tolist() == [1.0, 3.0] and offsets.tolist() == [0, 2, 2]  # sorted
        assert s.segments()[0].duration_ms == 50.0
        assert json.loads(json.dumps(s.metadata["params"])) == {"a": 2.0}
