"""circuitdsl.sweep.planning: seeds, grid parsing and checking, run names, and the check of the
grid and --set names against the circuit. Nothing here compiles a kernel or starts a worker."""
from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest

from circuitdsl.errors import CircuitDSLError, RunError
from circuitdsl.sweep import SweepError, derive_seeds, parse_grid, plan
from circuitdsl.sweep.planning import (check_circuit, check_grid, check_parameters,
                                       describe_run, known_parameters, seed_list, tag)

TINY = str(Path(__file__).parents[1] / "data" / "tiny_learner.py")


def test_sweep_error_is_a_run_error_and_a_value_error():
    assert issubclass(SweepError, RunError)
    assert issubclass(SweepError, CircuitDSLError) and issubclass(SweepError, ValueError)


@pytest.mark.parametrize("n", [0, -3, 1.5, True, "4"])
def test_derive_seeds_refuses_what_is_not_a_positive_count(n):
    with pytest.raises(SweepError, match="--seeds must be a positive number of runs"):
        derive_seeds(n)


def test_seed_list_keeps_an_explicit_list_and_derives_a_count():
    assert seed_list([5, np.int64(3)], root_seed=0) == [5, 3]
    assert seed_list(3, root_seed=11) == derive_seeds(3, 11)


@pytest.mark.parametrize("seeds, message", [
    ([], "seeds is an empty list"),
    ([1, 1], r"seeds has duplicates: \[1, 1\]"),
    ([1, -2], "seeds must be >= 0, got -2"),
    ([1, 2.5], "seeds must be integers, got 2.5"),
    ([True], "seeds must be integers, got True"),
])
def test_seed_list_refuses_bad_lists(seeds, message):
    with pytest.raises(SweepError, match=message):
        seed_list(seeds, 0)


def test_tag_is_directory_safe_and_long_points_are_shortened_with_a_digest():
    assert tag({}) == ""
    assert tag({"VAC->AC.weight": 3, "eta": 0.1}) == "VAC-_AC.weight=3_eta=0.1"
    long = tag({f"p{i}": "x" * 10 for i in range(8)})
    assert len(long) == 79 and long[70] == "-"
    assert long != tag({f"p{i}": "y" * 10 for i in range(8)})   # the digest tells them apart


def test_plan_is_seed_major_and_numbers_every_run():
    runs = plan([7, 9], {"a": [1, 2], "b": ["x"]})
    assert [(r["k"], r["seed"], r["point"]) for r in runs] == [
        (0, 7, {"a": 1, "b": "x"}), (1, 7, {"a": 2, "b": "x"}),
        (2, 9, {"a": 1, "b": "x"}), (3, 9, {"a": 2, "b": "x"})]
    assert [r["name"] for r in runs] == ["run-0000-a=1_b=x-seed7", "run-0001-a=2_b=x-seed7",
                                         "run-0002-a=1_b=x-seed9", "run-0003-a=2_b=x-seed9"]
    assert [r["name"] for r in plan([4])] == ["run-0000-seed4"]
    # more seeds keep the names of the first runs; the width grows past 10 000 runs
    assert [r["name"] for r in plan([7, 9, 11], {"a": [1, 2]})][:2] == \
        ["run-0000-a=1-seed7", "run-0001-a=2-seed7"]
    assert plan(list(range(10001)))[-1]["name"] == "run-10000-seed10000"


def test_parse_grid_casts_values_and_refuses_malformed_items():
    assert parse_grid(["eta=0.1, 0.2", "name=a,b"], cast=str) == \
        {"eta": ["0.1", "0.2"], "name": ["a", "b"]}
    assert parse_grid(["N=4,8"], cast=int) == {"N": [4, 8]}
    assert parse_grid(None) == {}
    for bad in ["eta", "eta=", "=1", "eta=1,", "eta=1,,2"]:
        with pytest.raises(SweepError, match="--grid expects NAME.PARAM=V1,V2,..."):
            parse_grid([bad])
    with pytest.raises(SweepError, match="--grid 'eta' is given twice"):
        parse_grid(["eta=1", "eta=2"])


@pytest.mark.parametrize("grid, params, message", [
    ({"": [1]}, {}, "grid parameter names must be non-empty strings"),
    ({"eta": "0.1"}, {}, "grid 'eta' needs a list of values, got '0.1'"),
    ({"eta": 3}, {}, "grid 'eta' needs a list of values, got 3"),
    ({"eta": []}, {}, "grid 'eta' has no values"),
    ({"eta": [1, 1.0, 1]}, {}, r"grid 'eta' repeats a value: \[1, 1.0, 1\]"),
    ({"eta": [1]}, {"eta": 2}, r"'eta' is both fixed \(--set\) and swept \(--grid\)"),
    ({"seed": [1, 2]}, {}, "'seed' cannot be a grid parameter name"),
])
def test_check_grid_refuses(grid, params, message):
    with pytest.raises(SweepError, match=message):
        check_grid(grid, params)


def test_check_grid_turns_iterables_into_lists():
    assert check_grid({"eta": (0.1, 0.2), "N": range(2, 4)}, {}) == \
        {"eta": [0.1, 0.2], "N": [2, 3]}


def test_check_circuit_resolves_a_file_and_refuses_unknown_names(tmp_path):
    assert check_circuit(TINY) == str(Path(TINY).resolve())
    assert check_circuit("category-learning") == "category-learning"
    with pytest.raises(SweepError, match="no circuit file 'nope.py'"):
        check_circuit("nope.py")
    with pytest.raises(SweepError, match="unknown circuit 'nope'; ready circuits: .*"
                                         "category-learning"):
        check_circuit("nope")


def test_known_parameters_from_params_or_the_build_signature():
    def build_named(N=4, *, eta=0.1):
        return None

    def build_any(**params):
        return None

    assert known_parameters(types.SimpleNamespace(PARAMS={"a": 1, "b": 2},
                                                  build=build_any)) == ["a", "b"]
    assert known_parameters(types.SimpleNamespace(build=build_named)) == ["N", "eta"]
    assert known_parameters(types.SimpleNamespace(build=build_any)) is None


def test_unknown_grid_or_set_names_are_refused_with_the_known_ones():
    known = "its parameters: gain, eta, target, activation, N, crash"
    with pytest.raises(SweepError) as info:
        check_parameters(check_circuit(TINY), {"gian": [1, 2]}, {}, label="tiny.py")
    assert str(info.value) == ("unknown grid parameter 'gian': tiny.py has no such parameter "
                               f"(did you mean 'gain'?); {known}")
    with pytest.raises(SweepError) as info:
        check_parameters(check_circuit(TINY), {"gain": [1, 2]}, {"zzz": 1}, label="tiny.py")
    assert str(info.value) == f"unknown --set parameter 'zzz': tiny.py has no such parameter; {known}"
    check_parameters(check_circuit(TINY), {"gain": [1, 2], "N": [4]}, {"eta": 0.1})   # fine


def test_a_circuit_without_declared_parameters_is_not_checked(tmp_path):
    path = tmp_path / "free.py"
    path.write_text("def build(**params):\n    raise AssertionError('never built here')\n")
    check_parameters(check_circuit(str(path)), {"anything": [1, 2]}, {"else": 3})


def test_describe_run_is_the_run_one_arguments():
    run = dict(plan([3], {"a": [1]})[0], dir=Path("/x/run-0000-a=1-seed3"))
    assert describe_run(run, "c.py", {"a": 1, "b": 2}, 5, resume=True) == dict(
        circuit="c.py", seed=3, params={"a": 1, "b": 2}, out="/x/run-0000-a=1-seed3",
        trials=5, resume=True, overwrite=False)
    assert describe_run(run, "c.py", {}, None, resume=False)["overwrite"] is True
