"""Per-lesion absorbed dose joined with per-lesion response (issue 7 item 7)."""

from __future__ import annotations

import pytest

from imagebio.dosimetry.dose_response import dose_response_table, plot_dose_response

HEADER = "subject,timepoint,lesion_id,organ,role,is_lymph_node,longest_diameter_mm,short_axis_mm,status,volume_ml\n"
ROWS = [
    "P1,2026-01-01,L1,liver,target,false,40,30,present,20.0",
    "P1,2026-01-01,L2,liver,target,false,20,15,present,",
    "P1,2026-01-01,N1,lymph node,target,true,25,16,present,",
    "P1,2026-01-01,L3,liver,target,false,15,10,present,",
    "P1,2026-03-01,L1,liver,target,false,30,22,present,10.0",
    "P1,2026-03-01,L2,liver,target,false,22,16,present,",
    "P1,2026-03-01,N1,lymph node,target,true,20,8,present,",
    "P1,2026-03-01,L3,liver,target,false,,,absent,",
]


def test_join_and_relative_change(tmp_path):
    path = tmp_path / "lesions.csv"
    path.write_text(HEADER + "\n".join(ROWS) + "\n")
    table = dose_response_table({"L1": 80.0, "L2": 12.0, "N1": 40.0, "L3": 120.0, "X9": 5.0}, path)
    by = table.set_index("lesion_id")
    assert set(by.index) == {"L1", "L2", "N1", "L3"}  # X9 has no response data
    assert by.loc["L1", "metric"] == "volume_ml" and by.loc["L1", "percent_change"] == pytest.approx(-50.0)
    assert by.loc["L2", "metric"] == "diameter_mm" and by.loc["L2", "percent_change"] == pytest.approx(10.0)
    assert by.loc["N1", "percent_change"] == pytest.approx(100 * (8 / 16 - 1))  # node: short axis
    assert by.loc["L3", "percent_change"] == pytest.approx(-100.0)
    assert (by["days"] == 59).all()
    png = plot_dose_response(table, tmp_path / "dr.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
