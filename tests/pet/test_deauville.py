"""Deauville five-point scale from uptake values (rule 68 of the response rule sheet; Barrington 2014)."""

import pytest

from imagebio.errors import InvalidParameterError
from imagebio.pet.deauville import deauville_score

MEDIASTINUM, LIVER = 1.8, 2.5


@pytest.mark.parametrize(
    ("uptake", "expected"),
    [
        (0.9, 1),  # at or below local background (1.0): no uptake above background
        (1.8, 2),  # equal to the mediastinum: "<= mediastinum" is 2
        (1.81, 3),  # just above the mediastinum, below the liver
        (2.5, 3),  # equal to the liver: "<= liver" is 3
        (2.51, 4),  # moderately above the liver
        (5.0, 4),  # exactly 2 x liver is not yet "markedly" higher
        (5.01, 5),  # above 2 x liver: markedly higher
    ],
)
def test_scores_follow_the_reference_comparisons(uptake, expected):
    result = deauville_score(uptake, MEDIASTINUM, LIVER, background_suv=1.0)
    assert result.score == expected, result.reason


def test_without_background_the_lowest_score_is_2():
    assert deauville_score(0.5, MEDIASTINUM, LIVER).score == 2


def test_new_lesion_is_5_whatever_the_uptake():
    result = deauville_score(1.0, MEDIASTINUM, LIVER, new_lesion=True)
    assert result.score == 5 and "new" in result.reason


def test_markedly_factor_is_configurable():
    assert deauville_score(6.0, MEDIASTINUM, LIVER, markedly_factor=3.0).score == 4
    assert deauville_score(7.6, MEDIASTINUM, LIVER, markedly_factor=3.0).score == 5


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"lesion_suv_max": float("nan")}, "lesion_suv_max"),
        ({"liver_suv": -1.0}, "liver_suv"),
        ({"mediastinum_suv": 3.0}, "mediastinum_suv"),
        ({"markedly_factor": 1.0}, "markedly_factor"),
    ],
)
def test_bad_input_names_the_parameter(kwargs, name):
    values = {"lesion_suv_max": 3.0, "mediastinum_suv": MEDIASTINUM, "liver_suv": LIVER} | kwargs
    with pytest.raises(InvalidParameterError, match=name):
        deauville_score(**values)
