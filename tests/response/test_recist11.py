"""RECIST 1.1 rules. Each expected category is read from the published rule (rule sheet numbers in comments)."""

import pytest

from imagebio.errors import SpecError
from imagebio.response import recist11
from imagebio.response.recist11 import RecistSettings, select_targets

from ._tables import categories, lesion, table

BL, F1, F2, F3, F4 = "2024-01-01", "2024-02-26", "2024-04-22", "2024-06-17", "2024-08-12"


def run(*rows, **settings):
    return recist11.assess_patient(table(*rows), RecistSettings(**settings))


def test_pr_boundary_exactly_minus_30_percent():
    # Rule 13 + G1: a sum exactly 30 % below baseline (100 -> 70 mm) is PR (>= 30 % decrease, inclusive).
    r = run(lesion(BL, "A", 60.0), lesion(BL, "B", 40.0), lesion(F1, "A", 42.0), lesion(F1, "B", 28.0))
    assert categories(r) == ["PR"]
    assert r.timepoints[1].numbers["change_from_baseline_pct"] == -30.0


def test_just_under_30_percent_is_sd():
    # Rule 15: 100 -> 70.1 mm is a 29.9 % decrease, not PR; SD.
    r = run(lesion(BL, "A", 100.0), lesion(F1, "A", 70.1))
    assert categories(r) == ["SD"]


def test_pd_measured_from_nadir_not_baseline():
    # Rules 14, G2: baseline 100, nadir 50 (PR), then 61 mm: +22 % and +11 mm over the nadir -> PD,
    # although the sum is still 39 % below baseline.
    r = run(lesion(BL, "A", 100.0), lesion(F1, "A", 50.0), lesion(F2, "A", 61.0))
    assert categories(r) == ["PR", "PD"]
    assert "nadir 50" in r.timepoints[2].reason


def test_pd_exactly_20_percent_and_5_mm():
    # Rule 14 + G1: nadir 25 mm, 30 mm is exactly +20 % and +5 mm: both conditions hold (inclusive) -> PD.
    r = run(lesion(BL, "A", 25.0), lesion(F1, "A", 30.0))
    assert categories(r) == ["PD"]


def test_absolute_5_mm_rule_blocks_pd():
    # Rule 14: nadir 20 mm -> 24 mm is +20 % but only +4 mm: PD needs both, so SD.
    r = run(lesion(BL, "A", 20.0), lesion(F1, "A", 24.0))
    assert categories(r) == ["SD"]
    assert "5 mm absolute minimum" in r.timepoints[1].reason


def test_nodes_reach_cr_under_10_mm_with_positive_sum():
    # Rules 9, 12: non-nodal target gone (0 mm) and the node at 8 mm short axis (< 10): target CR although the
    # sum is 8 mm; no non-targets, no new lesions -> overall CR.
    r = run(
        lesion(BL, "A", 30.0),
        lesion(BL, "N", 22.0, 18.0, organ="lymph node", node=True),
        lesion(F1, "A", status="absent"),
        lesion(F1, "N", 12.0, 8.0, organ="lymph node", node=True),
    )
    assert categories(r) == ["CR"]
    assert r.timepoints[1].numbers["sum"] == 8.0


def test_node_at_10_mm_is_not_cr():
    # Rule 12: a nodal target must be < 10 mm for CR; at exactly 10 mm the sum 10/48 = -79 % is PR.
    r = run(
        lesion(BL, "A", 30.0),
        lesion(BL, "N", 22.0, 18.0, organ="lymph node", node=True),
        lesion(F1, "A", status="absent"),
        lesion(F1, "N", 12.0, 10.0, organ="lymph node", node=True),
    )
    assert categories(r) == ["PR"]


def test_too_small_scores_5_mm():
    # Rule 10: a target too small to measure counts 5 mm: 40 + 10 -> 5 + 10 = 15 mm is -70 % -> PR (not CR,
    # because the non-nodal target is still present).
    r = run(lesion(BL, "A", 40.0), lesion(BL, "B", 10.0), lesion(F1, "A", status="too_small"), lesion(F1, "B", 10.0))
    assert categories(r) == ["PR"]
    assert r.timepoints[1].numbers["sum"] == 15.0


def test_missing_target_gives_ne_with_reason():
    # Rule 16: a target not assessed makes the time point NE unless the measured ones already meet PD.
    r = run(lesion(BL, "A", 30.0), lesion(BL, "B", 20.0), lesion(F1, "A", 28.0))
    assert categories(r) == ["NE"]
    assert "B (not in the table at this time point)" in r.timepoints[1].reason


def test_missing_target_but_measured_ones_meet_pd():
    # Rule 16: nadir 50; A alone is 70 mm (+40 %, +20 mm) while B was not evaluated -> PD anyway.
    r = run(
        lesion(BL, "A", 30.0), lesion(BL, "B", 20.0), lesion(F1, "A", 70.0), lesion(F1, "B", status="not_evaluated")
    )
    assert categories(r) == ["PD"]


def test_partial_sum_never_becomes_nadir():
    # Rule 16: the NE partial sum (A = 10 mm, B missing) must not lower the nadir (50); then 58 mm is +16 %
    # over the nadir 50 -> SD, whereas against a false nadir of 10 it would be PD.
    r = run(
        lesion(BL, "A", 30.0),
        lesion(BL, "B", 20.0),
        lesion(F1, "A", 10.0),
        lesion(F2, "A", 38.0),
        lesion(F2, "B", 20.0),
    )
    assert categories(r) == ["NE", "SD"]


def test_new_lesion_is_pd_whatever_the_targets():
    # Rule 21: an unequivocal new lesion is PD even with a target PR.
    r = run(lesion(BL, "A", 50.0), lesion(F1, "A", 20.0), lesion(F1, "X", 4.0, role="new"))
    assert categories(r) == ["PD"]


def test_equivocal_new_lesion_confirmed_later_dates_pd_back():
    # Rule 21: an equivocal new lesion is not PD when first seen; confirmed on the next scan, PD dates back to
    # the scan where it was first seen, and that earlier row says so.
    r = run(
        lesion(BL, "A", 50.0),
        lesion(F1, "A", 48.0),
        lesion(F1, "X", 6.0, role="new", status="equivocal"),
        lesion(F2, "A", 47.0),
        lesion(F2, "X", 12.0, role="new"),
    )
    assert categories(r) == ["PD", "PD"]
    first = r.timepoints[1]
    assert first.revised_from == "SD" and "first seen 2024-02-26" in first.reason
    assert r.best.category == "PD"


def test_equivocal_new_lesion_that_goes_away_is_not_pd():
    # Rule 21: an equivocal new lesion that is not confirmed never makes PD.
    r = run(
        lesion(BL, "A", 50.0),
        lesion(F1, "A", 48.0),
        lesion(F1, "X", 6.0, role="new", status="equivocal"),
        lesion(F2, "A", 47.0),
        lesion(F2, "X", role="new", status="absent"),
    )
    assert categories(r) == ["SD", "SD"]


def test_unequivocal_non_target_progression_is_pd_with_target_pr():
    # Rules 19, 23: unequivocal non-target progression is PD whatever the targets (here PR).
    r = run(
        lesion(BL, "A", 50.0),
        lesion(BL, "M", role="non_target", organ="pleura", status="present"),
        lesion(F1, "A", 20.0),
        lesion(F1, "M", role="non_target", organ="pleura", status="unequivocal_progression"),
    )
    assert categories(r) == ["PD"]


def test_target_cr_with_persisting_non_target_is_pr():
    # Table 1.6 (rule 23): target CR + non-target Non-CR/Non-PD + no new -> PR; target CR + non-target NE -> PR.
    r = run(
        lesion(BL, "A", 50.0),
        lesion(BL, "M", role="non_target", organ="bone", status="present"),
        lesion(F1, "A", status="absent"),
        lesion(F1, "M", role="non_target", organ="bone", status="present"),
        lesion(F2, "A", status="absent"),
        lesion(F2, "M", role="non_target", organ="bone", status="not_evaluated"),
    )
    assert categories(r) == ["PR", "PR"]


def test_non_target_only_patient():
    # Rule 24: non-target disease only -> Non-CR/Non-PD (not SD), CR when all gone, NE when not assessed.
    nt = dict(role="non_target", organ="bone")
    r = run(
        lesion(BL, "M", status="present", **nt),
        lesion(F1, "M", status="present", **nt),
        lesion(F2, "M", status="not_evaluated", **nt),
        lesion(F3, "M", status="absent", **nt),
    )
    assert categories(r) == ["Non-CR/Non-PD", "NE", "CR"]


def test_cr_reappearance_option():
    # Rule 28: after a target CR the lesion comes back at 4 mm. 2009 footnote ("pd"): PD.
    # EORTC FAQ ("apply_sum_rule"): nadir 0, +4 mm < 5 mm absolute -> not PD; 4/30 = -87 % -> PR.
    rows = [lesion(BL, "A", 30.0), lesion(F1, "A", status="absent"), lesion(F2, "A", 4.0)]
    assert categories(run(*rows)) == ["CR", "PD"]
    assert categories(run(*rows, cr_reappearance="apply_sum_rule")) == ["CR", "PR"]


def test_bor_confirmation():
    # Rules 25, 27: PR on F1 and PR on F2 (56 d later, >= 28 d) -> confirmed PR. PR then SD (35.5 mm: -29 % from
    # baseline, +18 % from the nadir 30) -> SD, the SD being seen >= 42 d after baseline.
    confirmed = run(lesion(BL, "A", 50.0), lesion(F1, "A", 30.0), lesion(F2, "A", 32.0), confirm=True)
    assert confirmed.best.category == "PR"
    unconfirmed = run(lesion(BL, "A", 50.0), lesion(F1, "A", 30.0), lesion(F2, "A", 35.5), confirm=True)
    assert categories(unconfirmed) == ["PR", "SD"]
    assert unconfirmed.best.category == "SD"
    # Without confirmation (randomised trials) the single PR is the best response.
    assert run(lesion(BL, "A", 50.0), lesion(F1, "A", 30.0), lesion(F2, "A", 35.5)).best.category == "PR"


def test_bor_cr_confirmed_by_cr_and_pr_then_pd_within_sd_window():
    # Rule 27: CR then CR -> CR. PR then PD with the PR seen before the minimum SD duration -> PD.
    cr = run(lesion(BL, "A", 50.0), lesion(F1, "A", status="absent"), lesion(F2, "A", status="absent"), confirm=True)
    assert cr.best.category == "CR"
    early = run(lesion(BL, "A", 50.0), lesion("2024-01-29", "A", 30.0), lesion(F1, "A", 60.0), confirm=True)
    assert categories(early) == ["PR", "PD"]
    assert early.best.category == "PD"


def test_target_selection_limits():
    # Rules 2, 5, 6: at most 5 targets and 2 per organ (all nodes one organ); nodes 10-15 mm non-target,
    # < 10 mm not recorded; lesions < 10 mm non-measurable.
    bl = table(
        lesion(BL, "L1", 50.0, role=""),
        lesion(BL, "L2", 40.0, role=""),
        lesion(BL, "L3", 30.0, role=""),
        lesion(BL, "P1", 25.0, organ="lung", role=""),
        lesion(BL, "N1", 30.0, 20.0, organ="lymph node", node=True, role=""),
        lesion(BL, "N2", 30.0, 16.0, organ="lymph node axilla", node=True, role=""),
        lesion(BL, "N3", 30.0, 15.5, organ="lymph node neck", node=True, role=""),
        lesion(BL, "N4", 14.0, 12.0, organ="lymph node", node=True, role=""),
        lesion(BL, "N5", 12.0, 8.0, organ="lymph node", node=True, role=""),
        lesion(BL, "S1", 9.0, organ="spleen", role=""),
    )
    chosen, _ = select_targets(bl)
    roles = dict(zip(chosen.lesion_id, chosen.role, strict=False))
    assert sorted(k for k, v in roles.items() if v == "target") == ["L1", "L2", "N1", "N2", "P1"]
    assert roles["L3"] == roles["N3"] == roles["N4"] == roles["S1"] == "non_target"
    assert "N5" not in roles


def test_given_targets_violating_limits_raise():
    # Rule 5: three targets in one organ is not allowed.
    with pytest.raises(SpecError, match="per organ"):
        run(lesion(BL, "A", 20.0), lesion(BL, "B", 20.0), lesion(BL, "C", 20.0), lesion(F1, "A", 20.0))
    # Rule 1: a 8 mm target is not measurable.
    with pytest.raises(SpecError, match="not measurable"):
        run(lesion(BL, "A", 8.0), lesion(F1, "A", 8.0))
