"""The tutorial connector in examples/ runs standalone and reports exactly what its CSV holds."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from pybaton.c1z import C1ZFile, SyncReader

EXAMPLES = Path(__file__).parent.parent / "examples"


def test_csv_tutorial_connector_syncs_its_file(tmp_path: Path) -> None:
    data = EXAMPLES / "data" / "people.csv"
    out = tmp_path / "people.c1z"
    proc = subprocess.run([sys.executable, str(EXAMPLES / "csv_connector.py"), "-f", str(out), "--path", str(data),
                           "--log-level", "warn"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    with data.open(newline="") as fh:
        people = list(csv.DictReader(fh))
    expected_members = {(g.strip(), p["login"]) for p in people for g in p["groups"].split(";") if g.strip()}
    with C1ZFile.open(out) as c1z:
        reader = SyncReader.of(c1z)
        users = {r.id.resource for r in reader.resources("user")}
        members = {(g.entitlement.resource.id.resource, g.principal.id.resource) for g in reader.grants()}
    assert users == {p["login"] for p in people}
    assert members == expected_members


def test_csv_tutorial_connector_reports_a_missing_file_in_one_line(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(EXAMPLES / "csv_connector.py"), "-f", str(tmp_path / "x.c1z"),
                           "--path", str(tmp_path / "missing.csv")], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("error:") and "path" in lines[-1]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "x.c1z").exists()
