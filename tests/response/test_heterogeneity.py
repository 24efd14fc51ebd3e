"""Per-lesion categories and mixed response (RECIST 1.1 thresholds applied per lesion)."""

from imagebio.response.heterogeneity import lesion_responses, response_pattern

from ._tables import lesion, table


def test_mixed_response_reported():
    # Lesion A: 40 -> 20 mm (-50 %, PR per lesion); B: 20 -> 30 mm (+50 %, +10 mm over its nadir: PD per lesion).
    # The sum 60 -> 50 (-17 %) is SD for RECIST, but per lesion the pattern is mixed.
    frame = table(
        lesion("2024-01-01", "A", 40.0),
        lesion("2024-01-01", "B", 20.0, organ="lung"),
        lesion("2024-03-01", "A", 20.0),
        lesion("2024-03-01", "B", 30.0, organ="lung"),
    )
    per = lesion_responses(frame).set_index("lesion_id")
    assert per.loc["A", "category"] == "PR" and per.loc["B", "category"] == "PD"
    pattern = response_pattern(lesion_responses(frame))
    assert list(pattern["pattern"]) == ["mixed"]


def test_new_lesion_with_responding_lesion_is_mixed_and_uniform_response():
    frame = table(
        lesion("2024-01-01", "A", 40.0), lesion("2024-03-01", "A", 20.0), lesion("2024-03-01", "X", 8.0, role="new")
    )
    assert list(response_pattern(lesion_responses(frame))["pattern"]) == ["mixed"]
    frame = table(lesion("2024-01-01", "A", 40.0), lesion("2024-03-01", "A", 20.0))
    assert list(response_pattern(lesion_responses(frame))["pattern"]) == ["response"]
