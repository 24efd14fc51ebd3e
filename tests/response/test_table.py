"""The lesion-table format: validation with typed errors naming the column and row."""

import pandas as pd
import pytest

from imagebio.errors import InvalidParameterError, SpecError
from imagebio.response import assess, example_table_path, read_lesion_table

from ._tables import lesion, table


def test_example_table_reads_and_is_typed():
    t = read_lesion_table(example_table_path())
    assert set(t["subject"]) == {"P01", "P02"}
    assert str(t["timepoint"].dtype).startswith("datetime64")
    assert t["is_lymph_node"].dtype == bool
    assert t["longest_diameter_mm"].dtype == float
    assert set(t["role"]) <= {"target", "non_target", "new"}


def test_missing_column_is_named(tmp_path):
    frame = pd.read_csv(example_table_path()).drop(columns=["short_axis_mm"])
    with pytest.raises(SpecError, match="short_axis_mm"):
        read_lesion_table(frame)


def test_other_unit_column_is_refused():
    frame = pd.read_csv(example_table_path()).rename(columns={"longest_diameter_mm": "longest_diameter_cm"})
    with pytest.raises(SpecError, match="longest_diameter_cm"):
        read_lesion_table(frame)


def test_bad_date_names_the_csv_line(tmp_path):
    path = tmp_path / "t.csv"
    text = example_table_path().read_text().replace("2024-03-04", "04/03/2024x", 1)
    path.write_text(text)
    with pytest.raises(SpecError, match=r"CSV line 6"):
        read_lesion_table(path)


def test_out_of_range_value_names_column_and_row():
    with pytest.raises(InvalidParameterError, match=r"longest_diameter_mm\[row 1\]"):
        table(lesion("2024-01-01", "A", 20.0), lesion("2024-02-01", "A", -3.0))


def test_implausible_diameter_is_refused():
    # 4200 "mm" (4.2 m) cannot be a lesion diameter: outside the plausible 0-1000 mm range.
    with pytest.raises(InvalidParameterError, match="longest_diameter_mm"):
        table(lesion("2024-01-01", "A", 4200.0))


def test_unknown_status_and_role():
    with pytest.raises(InvalidParameterError, match="status"):
        table(lesion("2024-01-01", "A", 20.0, status="gone"))
    with pytest.raises(InvalidParameterError, match="role"):
        table(lesion("2024-01-01", "A", 20.0, role="main"))


def test_time_order_new_lesion_at_baseline():
    with pytest.raises(SpecError, match="baseline"):
        table(lesion("2024-01-01", "A", 20.0), lesion("2024-01-01", "X", 20.0, role="new"))


def test_time_order_target_first_seen_after_baseline():
    with pytest.raises(SpecError, match="first seen"):
        table(lesion("2024-01-01", "A", 20.0), lesion("2024-03-01", "A", 20.0), lesion("2024-03-01", "B", 15.0))


def test_duplicate_lesion_at_one_time_point():
    with pytest.raises(SpecError, match="twice"):
        table(lesion("2024-01-01", "A", 20.0), lesion("2024-01-01", "A", 21.0))


def test_role_change_is_refused():
    with pytest.raises(SpecError, match="changes role"):
        table(lesion("2024-01-01", "A", 20.0), lesion("2024-03-01", "A", 20.0, role="non_target"))


def test_row_order_does_not_matter():
    frame = pd.read_csv(example_table_path())
    shuffled = frame.sample(frac=1.0, random_state=3)
    a = assess(frame, "recist11")
    b = assess(shuffled, "recist11")
    pd.testing.assert_frame_equal(a, b)


def test_assess_output_shape_and_unknown_option():
    out = assess(example_table_path(), "recist11", confirm=True)
    assert list(out.columns[:5]) == ["subject", "timepoint", "criteria", "category", "reason"]
    assert list(out.loc[out.timepoint == "best", "subject"]) == ["P01", "P02"]
    revised = out[(out.subject == "P02") & (out.timepoint == "2024-04-08")].iloc[0]
    assert revised.category == "PD" and revised.revised_from == "SD"
    with pytest.raises(InvalidParameterError, match="criteria"):
        assess(example_table_path(), "recist2")
    with pytest.raises(InvalidParameterError, match="nadir_rule"):
        assess(example_table_path(), "recist11", nadir_rule=1)


def test_settings_from_yaml_and_unknown_key(tmp_path):
    from imagebio.response import load_settings

    path = tmp_path / "recist.yaml"
    path.write_text("min_sd_days: 56\ncr_reappearance: apply_sum_rule\n")
    s = load_settings("recist11", path, confirm=True)
    assert (s.min_sd_days, s.cr_reappearance, s.confirm) == (56, "apply_sum_rule", True)
    path.write_text("min_sd_weeks: 8\n")
    with pytest.raises(SpecError, match="min_sd_weeks"):
        load_settings("recist11", path)
    with pytest.raises(InvalidParameterError, match="cr_reappearance"):
        load_settings("recist11", {"cr_reappearance": "maybe"})


def test_unit_column_must_be_mm():
    with pytest.raises(SpecError, match=r"diameter_unit is 'cm' at row 1"):
        table(lesion("2024-01-01", "A", 20.0, diameter_unit="mm"), lesion("2024-03-01", "A", 2.1, diameter_unit="cm"))
