"""compare_solvers and solve_gap: option checks, rows, tables and JSON files.

Every bad option is run through the management command, so each case checks
both the message of ``scheduler.cli`` and that Django turns it into a
``CommandError``.
"""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from scheduler import cli
from scheduler.core import Result, Status

from .conftest import GAP_DATA

COMPARE_BASE = ["--patients", "2", "--profiles", "balanced", "--seeds", "1"]
GAP_FILE = str(GAP_DATA / "gap1.txt")


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--patients", "0"], "--patients='0' is invalid: expected an integer from 1"),
        (["--patients", "four"], "--patients='four' is invalid"),
        (["--patients", "1001"], "--patients='1001' is invalid"),
        (["--profiles", "fast"], "--profiles='fast' is invalid: expected one of "
                                 "latency, security, balanced"),
        (["--seeds", "0"], "--seeds='0' is invalid: expected an integer from 1"),
        (["--seeds", "2.5"], "--seeds='2.5' is invalid"),
        (["--solvers", "cplex"], "--solvers='cplex' is invalid: expected one of "
                                 "exact, greedy, hybrid"),
        (["--time-limit", "0"], "--time-limit='0' is invalid: expected a number "
                                "of seconds > 0"),
        (["--time-limit", "nan"], "--time-limit='nan' is invalid"),
        (["--time-limit", "soon"], "--time-limit='soon' is invalid"),
        (["--backend", "gurobi"], "--backend='gurobi' is invalid: expected one of "
                                  "auto, cbc, highs"),
    ],
)  # fmt: skip
def test_compare_rejects_bad_option(arguments, expected):
    with pytest.raises(CommandError) as error:
        call_command("compare_solvers", *COMPARE_BASE, *arguments)
    assert expected in str(error.value)


def test_compare_rejects_json_path_before_solving(tmp_path):
    with pytest.raises(CommandError, match="a path in an existing folder"):
        call_command(
            "compare_solvers", *COMPARE_BASE, "--json", str(tmp_path / "no" / "x.json")
        )
    with pytest.raises(CommandError, match="a file path, not a folder"):
        call_command("compare_solvers", *COMPARE_BASE, "--json", str(tmp_path))


def test_compare_writes_rows_and_table(tmp_path, capsys):
    path = tmp_path / "rows.json"
    call_command(
        "compare_solvers",
        "--patients", "2", "3",
        "--profiles", "latency", "security",
        "--seeds", "2",
        "--time-limit", "5",
        "--json", str(path),
    )  # fmt: skip

    rows = json.loads(path.read_text())
    assert len(rows) == 2 * 2 * 2 * 3
    assert set(rows[0]) == set(cli.COMPARE_KEYS)
    assert {row["solver"] for row in rows} == {"exact", "greedy", "hybrid"}
    assert {(row["patients"], row["profile"], row["seed"]) for row in rows} == {
        (patients, profile, seed)
        for patients in (2, 3)
        for profile in ("latency", "security")
        for seed in (0, 1)
    }
    for row in rows:
        assert row["feasible"], row
        assert row["gap_to"] == "optimum", row
        assert row["gap_pct"] >= 0, row
        assert row["wall_s"] > 0, row

    exact = [row for row in rows if row["solver"] == "exact"]
    assert {row["status"] for row in exact} == {"optimal"}
    assert {row["gap_pct"] for row in exact} == {0.0}

    table = capsys.readouterr().out
    assert "gap % med" in table
    assert len(table.splitlines()) == 2 + 2 * 2 * 3


def test_compare_gap_is_to_bound_when_not_proven():
    exact = Result(
        solver="exact", status=Status.TIME_LIMIT, assignment={}, objective=1.1,
        feasible=True, wall_s=1.0, bound=1.0,
    )  # fmt: skip
    assert cli._reference(exact) == (1.0, "bound")
    assert cli.gap_pct(1.1, 1.0) == pytest.approx(10.0)


def test_compare_without_exact_has_no_gap():
    options = cli.parse_compare_options(["2"], ["balanced"], "1", solvers=["greedy"])
    [row] = cli.compare_solvers(options)
    assert row["gap_pct"] is None
    assert row["gap_to"] is None
    assert row["feasible"]


def test_gap_pct_sign_follows_sense():
    assert cli.gap_pct(110, 100, "min") == pytest.approx(10.0)
    assert cli.gap_pct(90, 100, "max") == pytest.approx(10.0)
    assert cli.gap_pct(100, 100, "max") == 0.0
    assert cli.gap_pct(None, 100) is None
    assert cli.gap_pct(100, None) is None


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--solver", "cplex"], "--solver='cplex' is invalid: expected one of "
                                "exact, greedy, hybrid"),
        (["--sense", "maximise"], "--sense='maximise' is invalid: expected one of "
                                  "min, max"),
        (["--time-limit", "-1"], "--time-limit='-1' is invalid"),
        (["--seed", "-1"], "--seed='-1' is invalid: expected an integer from 0"),
        (["--backend", "glpk"], "--backend='glpk' is invalid"),
        (["--known", "/nonexistent/known.csv"], "--known='/nonexistent/known.csv' "
                                                "is invalid: expected an existing"),
    ],
)  # fmt: skip
def test_solve_gap_rejects_bad_option(arguments, expected):
    with pytest.raises(CommandError) as error:
        call_command("solve_gap", GAP_FILE, *arguments)
    assert expected in str(error.value)


def test_solve_gap_rejects_missing_and_broken_file(tmp_path):
    missing = str(tmp_path / "gone.txt")
    with pytest.raises(CommandError, match=r"FILE='.*gone\.txt' is invalid"):
        call_command("solve_gap", missing)
    broken = tmp_path / "broken.txt"
    broken.write_text("1\n2 3\n1 2 x\n")
    with pytest.raises(CommandError) as error:
        call_command("solve_gap", str(broken))
    message = str(error.value)
    assert "broken.txt" in message
    assert "c[0][2]='x' is not an integer" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name,sense,value\ngap1-1,min,261\n", "header lacks instance"),
        ("instance,sense,value\ngap1-1,minimise,261\n",
         "line 2: sense='minimise' is invalid: expected min or max"),
        ("instance,sense,value\ngap1-1,min,\n",
         "line 2: value='' is invalid: expected a number"),
        ("instance,sense,value\ngap1-1,min,inf\n", "value='inf' is invalid"),
    ],
)  # fmt: skip
def test_solve_gap_rejects_bad_known_csv(tmp_path, text, expected):
    path = tmp_path / "known.csv"
    path.write_text(text)
    with pytest.raises(CommandError) as error:
        call_command("solve_gap", GAP_FILE, "--known", str(path))
    assert expected in str(error.value)
    assert "--known=" in str(error.value)


def test_solve_gap_rows_match_known_optima(tmp_path, capsys):
    path = tmp_path / "rows.json"
    call_command(
        "solve_gap", GAP_FILE,
        "--sense", "max",
        "--known", str(GAP_DATA / "known.csv"),
        "--time-limit", "20",
        "--json", str(path),
    )  # fmt: skip
    rows = json.loads(path.read_text())
    assert [row["instance"] for row in rows] == [f"gap1-{k}" for k in range(1, 6)]
    assert set(rows[0]) == set(cli.GAP_KEYS)
    assert [row["known"] for row in rows] == [336, 327, 339, 341, 326]
    for row in rows:
        assert row["value"] == row["known"], row
        assert row["gap_pct"] == 0.0, row
        assert row["status"] == "optimal", row
        assert row["feasible"], row
        assert row["sense"] == "max", row
    assert "gap1-5" in capsys.readouterr().out


@pytest.mark.parametrize("solver", ["greedy", "hybrid"])
def test_solve_gap_heuristic_rows(tmp_path, solver):
    single = tmp_path / "tiny.txt"
    single.write_text("2 3\n1 2 3\n5 4 4\n3 3 2 2 3 2\n5 5\n")
    path = tmp_path / "rows.json"
    call_command(
        "solve_gap", str(single), "--solver", solver, "--time-limit", "2",
        "--json", str(path),
    )  # fmt: skip
    [row] = json.loads(path.read_text())
    assert row["instance"] == "tiny"
    assert row["value"] == 8
    assert row["known"] is None
    assert row["gap_pct"] is None
    assert row["status"] == "feasible"
    assert row["feasible"]


def test_solve_gap_without_known_value(tmp_path):
    options = cli.parse_gap_options(
        [GAP_FILE], solver="greedy", known=str(GAP_DATA / "known.csv")
    )
    rows = cli.solve_gap_files(options)
    assert len(rows) == 5
    for row in rows:
        assert row["known"] is not None
        assert row["gap_pct"] >= 0
        assert row["feasible"]


def test_write_json_replaces_whole_file(tmp_path):
    path = tmp_path / "rows.json"
    path.write_text("old")
    cli.write_json([{"a": 1}], path)
    assert json.loads(path.read_text()) == [{"a": 1}]
    assert list(tmp_path.iterdir()) == [path]
