"""GAP reader, checker and the exact solver against published optima."""

import csv

import pytest

from scheduler.core import read_gap_file, solve
from scheduler.core.gap import GapInstance, check_gap_feasibility, gap_value

from .conftest import GAP_DATA

KNOWN = {
    (row["instance"], row["sense"]): int(row["value"])
    for row in csv.DictReader(open(GAP_DATA / "known.csv"))
}
SMALL_FILES = [f"gap{k}.txt" for k in range(1, 13)]


def test_known_csv_covers_sixty_small_instances():
    small = [key for key in KNOWN if key[0].startswith("gap")]
    assert len(small) == 120


@pytest.mark.parametrize("file_name", SMALL_FILES)
@pytest.mark.parametrize("sense", ["min", "max"])
def test_exact_reproduces_known_optima(file_name, sense):
    for instance in read_gap_file(GAP_DATA / file_name, sense=sense):
        result = solve(instance, "exact", time_limit_s=30)
        known = KNOWN[instance.name, sense]
        assert result.status.value == "optimal", instance.name
        assert result.objective == known, instance.name
        assert result.feasible, instance.name


def test_reader_names_and_sizes():
    instances = read_gap_file(GAP_DATA / "gapd.txt")
    assert [i.name for i in instances] == [
        "d05100", "d05200", "d10100", "d10200", "d20100", "d20200"
    ]  # fmt: skip
    assert (instances[0].agents, instances[0].jobs) == (5, 100)
    first = read_gap_file(GAP_DATA / "gap1.txt")[0]
    assert first.name == "gap1-1"
    assert first.cost[0][:3] == (17, 21, 22)
    assert first.capacity == (36, 34, 38, 27, 33)


def test_reader_one_instance_layout(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("2 3\n1 2 3\n5 4 4\n3 3 2 2 3 2\n5 5\n")
    [instance] = read_gap_file(path)
    assert instance.name == "tiny"
    assert instance.cost == ((1, 2, 3), (5, 4, 4))
    assert instance.use == ((3, 3, 2), (2, 3, 2))
    assert instance.capacity == (5, 5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "file is empty"),
        ("1\n2 3\n1 2 x\n", r"line 3, token 6: gap c\[0\]\[2\]='x' is not an integer"),
        ("1\n2 3\n1 2 3 5 4 4 3 3 2 2 3 2 5\n", r"b\[1\] is missing"),
        ("1\n0 3\n", r"line 2, token 2: gap agent count m=0 is invalid: expected >= 1"),
        ("2 3\n1 2 3\n5 4 4\n3 3 2 2 3 2\n5 5\n9\n", "unexpected '9' after 1 instance"),
        ("1\n2 3\n1 2 3 5 4 4 3 -3 2 2 3 2 5 5\n", r"a\[0\]\[1\]=-3 is invalid"),
        ("0\n", r"instance count P=0 is invalid"),
    ],
)
def test_reader_rejects_bad_input(tmp_path, text, expected):
    path = tmp_path / "gap.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=expected) as error:
        read_gap_file(path)
    assert str(path) in str(error.value)


def test_reader_rejects_bad_sense():
    with pytest.raises(ValueError, match="sense='maximise' is invalid"):
        read_gap_file(GAP_DATA / "gap1.txt", sense="maximise")


def test_instance_rejects_ragged_matrix():
    with pytest.raises(ValueError, match="GapInstance.use has rows of lengths"):
        GapInstance("bad", ((1, 2), (3, 4)), ((1, 2), (3,)), (5, 5))


def test_checker_and_value(tiny_gap):
    good = {"job-0": "agent-0", "job-1": "agent-1", "job-2": "agent-0"}
    assert gap_value(tiny_gap, good) == 8
    assert check_gap_feasibility(tiny_gap, good) == []
    bad = {"job-0": "agent-0", "job-1": "agent-0", "job-2": "agent-0"}
    [violation] = check_gap_feasibility(tiny_gap, bad)
    assert violation.constraint == "capacity"
    assert violation.tasks == ("job-0", "job-1", "job-2")


@pytest.mark.parametrize("solver", ["greedy", "hybrid"])
def test_heuristics_feasible_and_not_below_optimum(solver):
    for instance in read_gap_file(GAP_DATA / "gap4.txt")[:2]:
        result = solve(instance, solver, time_limit_s=5, seed=3)
        assert result.feasible, instance.name
        assert result.objective >= KNOWN[instance.name, "min"], instance.name


@pytest.mark.parametrize("solver", ["exact", "greedy", "hybrid"])
@pytest.mark.parametrize(("file_name", "index"), [("gapc.txt", 0), ("gapd.txt", 2)])
def test_typed_instance_result_passes_checker(solver, file_name, index):
    """Type C and D instances (5 to 10 agents, 100 jobs) with tight
    capacities, cut at 2 s: every solver's plan must pass the checker."""
    instance = read_gap_file(GAP_DATA / file_name)[index]
    result = solve(instance, solver, time_limit_s=2, seed=0)
    assert result.has_solution, instance.name
    assert check_gap_feasibility(instance, result.assignment) == []
    assert result.feasible
    assert result.objective == gap_value(instance, result.assignment)
    assert result.objective >= KNOWN[instance.name, "min"]
