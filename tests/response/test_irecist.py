"""iRECIST rules (Seymour 2017; rule sheet rules 29-37). Expected categories come from the published rules."""

from imagebio.response import irecist
from imagebio.response.irecist import IrecistSettings

from ._tables import categories, lesion, table

BL, F1, F2, F3, F4 = "2024-01-01", "2024-02-26", "2024-04-22", "2024-06-17", "2024-08-12"


def run(*rows, **settings):
    return irecist.assess_patient(table(*rows), IrecistSettings(**settings))


BASE = [lesion(BL, "A", 50.0), lesion(F1, "A", 30.0), lesion(F2, "A", 40.0)]  # iPR, then +33 %/+10 mm over nadir 30


def test_first_progression_is_iupd_and_further_5_mm_confirms():
    # Rules 31, 33a: F2 meets RECIST PD (+33 %, +10 mm over the nadir 30) -> iUPD; F3 (56 d later) sum 45 is
    # +5 mm over the iUPD sum 40 -> iCPD.
    r = run(*BASE, lesion(F3, "A", 45.0))
    assert categories(r) == ["iPR", "iUPD", "iCPD"]
    assert r.best.category == "iPR"  # rule 37: best time-point response before iCPD


def test_no_further_increase_stays_iupd():
    # Rule 34: +2 mm since the iUPD and still PD against the nadir -> stays iUPD; never confirmed.
    r = run(*BASE, lesion(F3, "A", 42.0))
    assert categories(r) == ["iPR", "iUPD", "iUPD"]
    assert "stays iUPD" in r.timepoints[3].reason


def test_reset_after_iupd_then_progression_needs_new_confirmation():
    # Rule 35: at F3 the sum is back to 30 (0 % over the nadir, -40 % from baseline) -> iPR, iUPD dropped.
    # F4 at 40 mm is again RECIST PD -> iUPD (not iCPD), because the bar was reset.
    r = run(*BASE, lesion(F3, "A", 30.0), lesion(F4, "A", 40.0))
    assert categories(r) == ["iPR", "iUPD", "iPR", "iUPD"]
    assert "reset" in r.timepoints[3].reason


def test_scan_within_4_weeks_is_not_used_for_confirmation():
    # Rule 32: a scan 14 d after the iUPD, even 10 mm larger, is ignored for confirmation -> iUPD.
    r = run(*BASE, lesion("2024-05-06", "A", 50.0))
    assert categories(r) == ["iPR", "iUPD", "iUPD"]
    assert "not used for confirmation" in r.timepoints[3].reason


def test_more_new_lesions_confirm_new_lesion_iupd():
    # Rules 31, 33c: a new lesion gives iUPD; a further new lesion on the next scan -> iCPD.
    r = run(
        lesion(BL, "A", 50.0),
        lesion(F1, "A", 45.0),
        lesion(F1, "X1", 12.0, role="new"),
        lesion(F2, "A", 45.0),
        lesion(F2, "X1", 12.0, role="new"),
        lesion(F2, "X2", 6.0, role="new", organ="lung"),
    )
    assert categories(r) == ["iUPD", "iCPD"]


def test_new_lesion_target_sum_never_added_to_target_sum():
    # Rule 30: the new lesion (20 mm, NLT) is not added to the target sum (still 45 mm, -10 %: iSD-level targets).
    r = run(lesion(BL, "A", 50.0), lesion(F1, "A", 45.0), lesion(F1, "X1", 20.0, role="new"))
    assert r.timepoints[1].numbers["sum"] == 45.0
    assert r.timepoints[1].numbers["nlt"] == ["X1"] and r.timepoints[1].numbers["nlt_sum"] == 20.0


def test_progression_in_a_new_category_confirms():
    # Rule 33d: iUPD from targets, then a new lesion appears (a category that had not progressed) -> iCPD.
    r = run(*BASE, lesion(F3, "A", 41.0), lesion(F3, "X1", 8.0, role="new"))
    assert categories(r) == ["iPR", "iUPD", "iCPD"]


def test_unconfirmed_iupd_is_the_best_when_nothing_better():
    # Rule 37: imaging stops before confirmation -> the record stays iUPD.
    r = run(lesion(BL, "A", 50.0), lesion(F1, "A", 62.0))
    assert categories(r) == ["iUPD"]
    assert r.best.category == "iUPD"


def test_later_response_after_iupd_is_best():
    # Rule 37: an earlier iUPD does not stop a later iSD from being the best (iSD seen >= 42 d after baseline).
    r = run(lesion(BL, "A", 50.0), lesion(F1, "A", 62.0), lesion(F2, "A", 52.0))
    assert categories(r) == ["iUPD", "iSD"]
    assert r.best.category == "iSD"


def _nt(date, ld, status="present"):
    return lesion(date, "M", ld, role="non_target", organ="bone", status=status)


def test_non_target_iupd_stays_then_confirmed_by_any_further_increase():
    # Rules 31, 34, 33b: unequivocal non-target progression -> iUPD; next scan unchanged (40 mm, not re-marked)
    # -> stays iUPD; then any further increase (40 -> 44 mm), unequivocal or not -> iCPD.
    r = run(
        lesion(BL, "A", 50.0), _nt(BL, 30.0),
        lesion(F1, "A", 45.0), _nt(F1, 40.0, "unequivocal_progression"),
        lesion(F2, "A", 45.0), _nt(F2, 40.0),
        lesion(F3, "A", 45.0), _nt(F3, 44.0),
    )  # fmt: skip
    assert categories(r) == ["iUPD", "iUPD", "iCPD"]


def test_non_target_iupd_reset_when_it_regresses():
    # Rule 35: the progressed non-target is gone at the next scan, targets iSD -> iUPD dropped (iSD).
    r = run(
        lesion(BL, "A", 50.0), _nt(BL, 30.0),
        lesion(F1, "A", 45.0), _nt(F1, 40.0, "unequivocal_progression"),
        lesion(F2, "A", 45.0), _nt(F2, None, "absent"),
    )  # fmt: skip
    assert categories(r) == ["iUPD", "iSD"]
