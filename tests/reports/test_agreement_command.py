"""The ``agreement`` management command: JSON and table output, one-line errors with exit status 2,
and no database access."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import django
import numpy as np
import pytest
from django.apps import apps
from django.core.management.base import CommandError

from tests.fixtures import command_output

ROOT = Path(__file__).resolve().parents[2]

if not apps.ready:  # running without pytest-django
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalplatform.settings")
    django.setup()


@pytest.fixture(autouse=True)
def no_database(monkeypatch):
    """Fail loudly if anything in the command opens a database connection."""
    from django.db.backends.base.base import BaseDatabaseWrapper

    def refuse(self, *args, **kwargs):
        raise AssertionError("the agreement command touched the database")

    monkeypatch.setattr(BaseDatabaseWrapper, "ensure_connection", refuse)
    monkeypatch.setattr(BaseDatabaseWrapper, "connect", refuse)


def ratings_csv(tmp_path: Path, n_units=40, seed=0) -> Path:
    rng = np.random.default_rng(seed)
    lines = ["item_id,rater,dimension,value,model"]
    for u in range(n_units):
        truth = rng.integers(1, 6)
        for r in "abc":
            v = int(np.clip(truth + rng.integers(-1, 2), 1, 5))
            lines.append(f"q{u},{r},helpfulness,{v},{'m1' if u % 2 else 'm2'}")
            lines.append(f"q{u},{r},tone,{'ok' if (v + (r == 'c')) % 2 else 'bad'},{'m1' if u % 2 else 'm2'}")
    path = tmp_path / "ratings.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_json_report(tmp_path):
    report = json.loads(command_output("agreement", str(ratings_csv(tmp_path)), "--bootstrap", "200", "--seed", "3"))
    assert report["parameters"] == {"bootstrap": 200, "seed": 3}
    dims = {d["dimension"]: d for d in report["dimensions"]}
    assert dims["helpfulness"]["level"] == "ordinal"
    assert dims["tone"]["level"] == "nominal"
    h = dims["helpfulness"]
    assert h["n_units"] == 40
    assert h["n_raters"] == 3
    assert h["n_ratings"] == 120
    assert h["krippendorff_alpha"]["ci95"] is not None
    assert h["fleiss_kappa"]["value"] is not None  # every unit has three ratings
    assert [m["model"] for m in h["by_model"]] == ["m1", "m2"]


def test_level_option_applies_to_every_dimension(tmp_path):
    path = tmp_path / "n.csv"
    path.write_text("item_id,rater,value\n1,a,3\n1,b,4\n2,a,1\n2,b,1\n3,a,5\n3,b,4\n")
    report = json.loads(command_output("agreement", str(path), "--level", "interval", "--bootstrap", "0"))
    (dim,) = report["dimensions"]
    assert dim["level"] == "interval"
    assert dim["dimension"] == "n"
    assert dim["krippendorff_alpha"]["ci95"] is None


def test_table_format(tmp_path):
    text = command_output("agreement", str(ratings_csv(tmp_path)), "--format", "table", "--bootstrap", "100")
    assert "Dimension helpfulness: ordinal, 40 units, 3 raters, 120 ratings" in text
    assert "Krippendorff's alpha" in text
    assert "Gwet's AC2 (quadratic)" in text
    assert "Cohen's kappa (unweighted, mean of 3 pairs)" in text
    assert "most disagreed item" in text
    assert "kappa with others" in text


def test_jsonl_input(tmp_path):
    path = tmp_path / "r.jsonl"
    rows = [{"item_id": u, "rater": r, "value": (u + (r == "b")) % 3 + 1} for u in range(20) for r in "ab"]
    path.write_text("\n".join(json.dumps(x) for x in rows))
    report = json.loads(command_output("agreement", str(path), "--bootstrap", "50"))
    assert report["dimensions"][0]["dimension"] == "r"


@pytest.mark.parametrize(("name", "text", "pattern"), [
    ("missing.csv", "item_id,value\n1,3\n", "line 1: missing column 'rater'"),
    ("nonnum.csv", "item_id,rater,value\n1,a,3\n1,b,x\n", "line 3, field 'value': 'x' is not a number"),
    ("empty.csv", "", "line 1: the file is empty"),
    ("bad.jsonl", '{"item_id": 1, "rater": "a", "value": 3}\n{"item_id": 1,\n', "line 2: invalid JSON"),
    ("fields.csv", "item_id,rater,value\n1,a,3\n1,b\n", "line 3: expected 3 fields"),
    ("dup.csv", "item_id,rater,value\n1,a,3\n1,a,4\n", "line 3: rater 'a' rated item '1' twice"),
    ("nan.csv", "item_id,rater,value\n1,a,3\n1,b,nan\n", "line 3, field 'value': 'nan' is not a finite number"),
])
def test_bad_input_is_a_one_line_error_with_status_2(tmp_path, name, text, pattern):
    path = tmp_path / name
    path.write_text(text)
    args = [str(path)] + (["--level", "ordinal"] if name == "nonnum.csv" else [])
    with pytest.raises(CommandError) as info:
        command_output("agreement", *args)
    assert info.value.returncode == 2
    message = str(info.value)
    assert pattern in message
    assert "\n" not in message


def test_missing_file(tmp_path):
    with pytest.raises(CommandError, match="no such file") as info:
        command_output("agreement", str(tmp_path / "nope.csv"))
    assert info.value.returncode == 2


def subprocess_env():
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="evalplatform.settings", PYTHONPATH=str(ROOT))
    env.pop("DATABASE_URL", None)
    return env


def test_exit_status_and_stderr_via_subprocess(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("item_id,rater,value\n1,a,3\n1,b,x\n")
    proc = subprocess.run([sys.executable, str(ROOT / "manage.py"), "agreement", str(bad), "--level", "ordinal"],
                          capture_output=True, text=True, cwd=ROOT, env=subprocess_env(), timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "line 3, field 'value'" in lines[0]
    good = ratings_csv(tmp_path)
    proc = subprocess.run([sys.executable, str(ROOT / "manage.py"), "agreement", str(good), "--bootstrap", "50"],
                          capture_output=True, text=True, cwd=ROOT, env=subprocess_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["dimensions"][0]["dimension"] == "helpfulness"


# --- The engine's own entry point: python -m evalplatform.stats, without Django ---------------------


def engine(*args: str) -> subprocess.CompletedProcess:
    """``python -m evalplatform.stats ARGS`` in a fresh interpreter, reporting which heavy modules loaded."""
    code = (
        "import runpy, sys\n"
        f"sys.argv = ['evalplatform.stats', *{list(args)!r}]\n"
        "try:\n"
        "    runpy.run_module('evalplatform.stats', run_name='__main__', alter_sys=True)\n"
        "finally:\n"
        "    loaded = [m for m in ('django', 'celery', 'rest_framework') if m in sys.modules]\n"
        "    sys.stderr.write(f'\\nLOADED={loaded}\\n')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)


def test_the_engine_entry_point_prints_the_same_report_as_the_command_without_django(tmp_path):
    path = str(ratings_csv(tmp_path))
    result = engine(path, "--bootstrap", "100", "--seed", "5")
    assert result.returncode == 0, result.stderr
    assert "LOADED=[]" in result.stderr  # neither Django nor Celery nor DRF was imported
    assert json.loads(result.stdout) == json.loads(command_output("agreement", path, "--bootstrap", "100", "--seed", "5"))


def test_the_engine_entry_point_prints_the_same_tables(tmp_path):
    path = str(ratings_csv(tmp_path))
    result = engine(path, "--bootstrap", "50", "--format", "table")
    assert result.returncode == 0, result.stderr
    assert result.stdout == command_output("agreement", path, "--bootstrap", "50", "--format", "table")


def test_the_engine_entry_point_names_the_bad_line_and_exits_2(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("item_id,rater,value\n1,a,3\n1,b\n")
    result = engine(str(path))
    assert result.returncode == 2
    assert "line 3" in result.stderr
    assert result.stdout == ""


def test_the_engine_entry_point_refuses_a_missing_file_with_exit_2(tmp_path):
    result = engine(str(tmp_path / "nope.csv"))
    assert result.returncode == 2
    assert "no such file" in result.stderr


def test_the_console_script_is_installed_and_answers_help():
    script = Path(sys.executable).with_name("evalplatform-agreement")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "--bootstrap" in result.stdout


def manage_py(*args: str) -> subprocess.CompletedProcess:
    """``manage.py ARGS`` in a fresh interpreter, reporting whether Django was imported."""
    code = (
        "import runpy, sys\n"
        f"sys.argv = ['manage.py', *{list(args)!r}]\n"
        "try:\n"
        "    runpy.run_path('manage.py', run_name='__main__')\n"
        "finally:\n"
        "    sys.stderr.write(f\"\\nDJANGO={'django' in sys.modules}\\n\")\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)


def test_manage_py_agreement_runs_without_starting_django(tmp_path):
    path = str(ratings_csv(tmp_path))
    result = manage_py("agreement", path, "--bootstrap", "100", "--seed", "5")
    assert result.returncode == 0, result.stderr
    assert "DJANGO=False" in result.stderr
    assert json.loads(result.stdout) == json.loads(command_output("agreement", path, "--bootstrap", "100", "--seed", "5"))


def test_manage_py_agreement_with_a_django_option_goes_through_django(tmp_path):
    result = manage_py("agreement", str(ratings_csv(tmp_path)), "--bootstrap", "0", "--verbosity", "0")
    assert result.returncode == 0, result.stderr
    assert "DJANGO=True" in result.stderr


def test_manage_py_agreement_names_the_bad_line_and_exits_2(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("item_id,rater,value\n1,a,3\n1,b\n")
    result = manage_py("agreement", str(path))
    assert result.returncode == 2
    assert "line 3" in result.stderr
