"""mRECIST, Choi, PERCIST, RANO 2.0, Lugano and volumetric rules; expected categories from the published rules
(rule sheet numbers in comments)."""

import pytest

from imagebio.errors import SpecError
from imagebio.response import choi, lugano, mrecist, percist, rano2, volumetric
from imagebio.response.choi import ChoiSettings
from imagebio.response.lugano import LuganoSettings
from imagebio.response.mrecist import MrecistSettings
from imagebio.response.percist import PercistSettings, liver_threshold
from imagebio.response.rano2 import Rano2Settings
from imagebio.response.volumetric import VolumetricSettings

from ._tables import categories, lesion, table

BL, F1, F2, F3 = "2024-01-01", "2024-02-26", "2024-04-22", "2024-06-17"


# --- mRECIST -------------------------------------------------------------------------------------------------


def test_mrecist_uses_viable_diameter():
    # Rules 49-50: overall LD unchanged (40 mm) but viable diameter 40 -> 20 mm (-50 %) -> PR.
    r = mrecist.assess_patient(
        table(lesion(BL, "H", 40.0, viable_diameter_mm=40.0), lesion(F1, "H", 40.0, viable_diameter_mm=20.0))
    )
    assert categories(r) == ["PR"]


def test_mrecist_cr_when_no_enhancement_and_no_5_mm_rule():
    # Rule 50: no arterial enhancement in any target -> CR, even though the lesion is still visible (LD 30 mm).
    r = mrecist.assess_patient(
        table(lesion(BL, "H", 30.0, viable_diameter_mm=20.0), lesion(F1, "H", 30.0, viable_diameter_mm=0.0))
    )
    assert categories(r) == ["CR"]
    # Rule 50: no absolute minimum by default: nadir 15 -> 18 mm (+20 %, +3 mm) is PD in mRECIST ...
    rows = [lesion(BL, "H", 30.0, viable_diameter_mm=15.0), lesion(F1, "H", 30.0, viable_diameter_mm=18.0)]
    assert categories(mrecist.assess_patient(table(*rows))) == ["PD"]
    # ... and SD when the 5 mm rule is switched on.
    assert categories(mrecist.assess_patient(table(*rows), MrecistSettings(pd_absolute_mm=5.0))) == ["SD"]


def test_mrecist_target_must_enhance():
    # Rule 48: an atypical (non-enhancing) lesion cannot be a target.
    with pytest.raises(SpecError, match="typical HCC"):
        mrecist.assess_patient(
            table(lesion(BL, "H", 30.0, viable_diameter_mm=0.0), lesion(F1, "H", 30.0, viable_diameter_mm=0.0))
        )


def test_mrecist_small_new_liver_lesion_is_not_yet_pd():
    # Rule 52: a new 8 mm liver lesion is not PD; when it reaches 12 mm, PD dates back to its first scan.
    r = mrecist.assess_patient(
        table(
            lesion(BL, "H", 30.0, viable_diameter_mm=20.0),
            lesion(F1, "H", 30.0, viable_diameter_mm=20.0),
            lesion(F1, "X", 8.0, role="new"),
            lesion(F2, "H", 30.0, viable_diameter_mm=20.0),
            lesion(F2, "X", 12.0, role="new"),
        )
    )
    assert categories(r) == ["PD", "PD"]
    assert r.timepoints[1].revised_from == "SD"


# --- Choi ----------------------------------------------------------------------------------------------------


def test_choi_density_alone_gives_pr():
    # Rule 63: size -5 % but density 100 -> 80 HU (-20 %, >= 15 %) -> PR; modified Choi (rule 66) needs both -> SD.
    rows = [lesion(BL, "G", 100.0, mean_hu=100.0), lesion(F1, "G", 95.0, mean_hu=80.0)]
    assert categories(choi.assess_patient(table(*rows))) == ["PR"]
    assert categories(choi.assess_patient(table(*rows), ChoiSettings(modified=True))) == ["SD"]


def test_choi_size_boundaries():
    # Rule 63: exactly -10 % size -> PR. Rule 64: +10 % size with density unchanged -> PD; +10 % size with
    # density -15 % -> PR (PD needs density PR not met).
    assert categories(
        choi.assess_patient(table(lesion(BL, "G", 50.0, mean_hu=60.0), lesion(F1, "G", 45.0, mean_hu=60.0)))
    ) == ["PR"]
    assert categories(
        choi.assess_patient(table(lesion(BL, "G", 50.0, mean_hu=60.0), lesion(F1, "G", 55.0, mean_hu=60.0)))
    ) == ["PD"]
    assert categories(
        choi.assess_patient(table(lesion(BL, "G", 50.0, mean_hu=60.0), lesion(F1, "G", 55.0, mean_hu=51.0)))
    ) == ["PR"]


def test_choi_nodule_within_mass_and_new_lesion():
    # Rule 64: a new intratumoural nodule (reader: unequivocal_progression on the target) -> PD; new lesion -> PD.
    r = choi.assess_patient(
        table(
            lesion(BL, "G", 50.0, mean_hu=60.0), lesion(F1, "G", 48.0, mean_hu=55.0, status="unequivocal_progression")
        )
    )
    assert categories(r) == ["PD"]
    r = choi.assess_patient(
        table(
            lesion(BL, "G", 50.0, mean_hu=60.0), lesion(F1, "G", 40.0, mean_hu=40.0), lesion(F1, "X", 5.0, role="new")
        )
    )
    assert categories(r) == ["PD"]


# --- PERCIST -------------------------------------------------------------------------------------------------

LIVER = dict(liver_sul_mean=2.0, liver_sul_sd=0.25)  # threshold 1.5 x 2.0 + 2 x 0.25 = 3.5 SUL


def pet(date, lid, sul, **kw):
    return lesion(date, lid, 20.0, sul_peak=sul, **LIVER, **kw)


def test_percist_threshold():
    # Rule 40: 1.5 x 2.0 + 2 x 0.25 = 3.5 SUL exactly.
    assert float(liver_threshold(2.0, 0.25)) == 3.5


def test_percist_08_sul_rule():
    # Rules 45-46 need >= 30 % AND >= 0.8 SUL. Liver 1.2 +- 0.1 gives a threshold of 2.0 SUL, so a 2.5 SUL
    # baseline lesion is measurable.
    low = dict(liver_sul_mean=1.2, liver_sul_sd=0.1)

    def one(bl, fu):
        return percist.assess_patient(
            table(lesion(BL, "T", 20.0, sul_peak=bl, **low), lesion(F1, "T", 20.0, sul_peak=fu, **low))
        )

    # 2.5 -> 1.7: -32 % and exactly -0.8 SUL -> PMR (both inclusive).
    assert categories(one(2.5, 1.7)) == ["PMR"]
    # 2.5 -> 1.75: -30 % but only -0.75 SUL -> SMD.
    r = one(2.5, 1.75)
    assert categories(r) == ["SMD"] and "under 0.8 SUL" in r.timepoints[1].reason
    # 2.5 -> 3.25: +30 % but only +0.75 SUL -> SMD, not PMD.
    assert categories(one(2.5, 3.25)) == ["SMD"]
    # 3.0 -> 3.9: exactly +30 % and +0.9 SUL -> PMD.
    assert categories(one(3.0, 3.9)) == ["PMD"]
    # 4.0 -> 2.8: exactly -30 % and -1.2 SUL -> PMR.
    assert categories(one(4.0, 2.8)) == ["PMR"]


def test_percist_strict_option_and_cmr_and_hottest_lesion_switch():
    # Rule 46: Wahl 2009's "> 30 %" (inclusive=False) turns exactly +30 % into SMD.
    low = dict(liver_sul_mean=1.2, liver_sul_sd=0.1)
    rows = [lesion(BL, "T", 20.0, sul_peak=3.0, **low), lesion(F1, "T", 20.0, sul_peak=3.9, **low)]
    assert categories(percist.assess_patient(table(*rows), PercistSettings(inclusive=False))) == ["SMD"]
    # Rule 44: every lesion <= liver mean, no new lesion -> CMR.
    assert categories(percist.assess_patient(table(pet(BL, "T", 6.0), pet(F1, "T", 1.9)))) == ["CMR"]
    # Rule 42: the hottest follow-up lesion may be another one: T 6 -> 2, U 4 -> 8 -> +33 %, +2 SUL -> PMD.
    r = percist.assess_patient(
        table(
            pet(BL, "T", 6.0),
            pet(BL, "U", 4.0, role="non_target"),
            pet(F1, "T", 2.0),
            pet(F1, "U", 8.0, role="non_target"),
        )
    )
    assert categories(r) == ["PMD"]


def test_percist_not_measurable_and_non_comparable():
    # Rule 40: hottest baseline lesion 3.4 < 3.5 -> not assessable (NE).
    assert categories(percist.assess_patient(table(pet(BL, "T", 3.4), pet(F1, "T", 1.0)))) == ["NE"]
    # Rule 43: follow-up liver 2.0 -> 2.5 (+25 %, +0.5 SUL) -> non-comparable scans, NE.
    r = percist.assess_patient(
        table(pet(BL, "T", 6.0), lesion(F1, "T", 20.0, sul_peak=3.0, liver_sul_mean=2.5, liver_sul_sd=0.25))
    )
    assert categories(r) == ["NE"] and "not comparable" in r.timepoints[1].reason


def test_percist_new_lesion_is_pmd():
    # Rule 46: a new FDG-avid lesion -> PMD even with the target responding.
    r = percist.assess_patient(table(pet(BL, "T", 6.0), pet(F1, "T", 2.5), pet(F1, "X", 5.0, role="new")))
    assert categories(r) == ["PMD"]


# --- RANO 2.0 ------------------------------------------------------------------------------------------------


def glioma(date, lid, ld=None, perp=None, **kw):
    return lesion(date, lid, ld, organ="brain", perpendicular_diameter_mm=perp, **kw)


def test_rano_products_and_thresholds():
    # Rule 57: SPD 40x30 = 1200 -> 30x20 = 600 (exactly -50 %) -> PR; then 30x25 = 750, exactly +25 % over the
    # nadir 600 -> PD.
    r = rano2.assess_patient(
        table(glioma(BL, "E", 40.0, 30.0), glioma(F1, "E", 30.0, 20.0), glioma(F2, "E", 30.0, 25.0))
    )
    assert categories(r) == ["PR", "PD"]


def test_rano_steroids_and_clinical_status():
    # Rule 58: imaging CR but still on 4 mg/day dexamethasone -> SD; PR with steroids increased -> SD;
    # a steroid increase alone is not PD; clinical deterioration -> PD.
    r = rano2.assess_patient(
        table(glioma(BL, "E", 40.0, 30.0, steroid_dose=2.0), glioma(F1, "E", status="absent", steroid_dose=4.0))
    )
    assert categories(r) == ["SD"]
    r = rano2.assess_patient(
        table(glioma(BL, "E", 40.0, 30.0, steroid_dose=2.0), glioma(F1, "E", 30.0, 20.0, steroid_dose=4.0))
    )
    assert categories(r) == ["SD"] and "steroid" in r.timepoints[1].reason
    r = rano2.assess_patient(
        table(
            glioma(BL, "E", 40.0, 30.0, clinical_status="stable"), glioma(F1, "E", 40.0, 30.0, clinical_status="worse")
        )
    )
    assert categories(r) == ["PD"]


def test_rano_steroid_increase_alone_is_not_pd():
    # Rule 58: SPD unchanged, steroids doubled -> not PD (SD), and the reason says so.
    r = rano2.assess_patient(
        table(glioma(BL, "E", 40.0, 30.0, steroid_dose=2.0), glioma(F1, "E", 40.0, 30.0, steroid_dose=4.0))
    )
    assert categories(r) == ["SD"] and "steroid increase alone is not PD" in r.timepoints[1].reason


def test_rano_preliminary_pd_after_radiotherapy():
    # Rule 59: PD 8 weeks after RT is preliminary; not confirmed on the next scan -> revised (pseudoprogression);
    # confirmed -> PD dated to the first scan.
    s = Rano2Settings(radiotherapy_end="2023-12-15")
    pseudo = rano2.assess_patient(
        table(glioma(BL, "E", 20.0, 20.0), glioma("2024-02-05", "E", 25.0, 25.0), glioma(F2, "E", 20.0, 20.0)), s
    )
    assert categories(pseudo) == ["SD", "SD"] and pseudo.timepoints[1].revised_from == "pPD"
    real = rano2.assess_patient(
        table(glioma(BL, "E", 20.0, 20.0), glioma("2024-02-05", "E", 25.0, 25.0), glioma(F2, "E", 30.0, 30.0)), s
    )
    assert categories(real) == ["PD", "PD"] and real.timepoints[1].revised_from == "pPD"


# --- Lugano --------------------------------------------------------------------------------------------------


def lymph(date, lid, score, sul=None, **kw):
    return lesion(date, lid, 30.0, 20.0, organ="lymph node", node=True, deauville=score, sul_peak=sul, **kw)


def test_lugano_deauville():
    # Rule 69: Deauville 3 -> CMR; 4 with less uptake -> PMR; 5 with more uptake -> PMD; new FDG-avid lesion -> PMD.
    assert categories(lugano.assess_patient(table(lymph(BL, "N", "5", 12.0), lymph(F1, "N", "3", 2.0)))) == ["CMR"]
    assert categories(lugano.assess_patient(table(lymph(BL, "N", "5", 12.0), lymph(F1, "N", "4", 6.0)))) == ["PMR"]
    assert categories(lugano.assess_patient(table(lymph(BL, "N", "5", 12.0), lymph(F1, "N", "5", 12.5)))) == ["NMR"]
    assert categories(lugano.assess_patient(table(lymph(BL, "N", "5", 12.0), lymph(F1, "N", "5", 16.0)))) == ["PMD"]
    r = lugano.assess_patient(
        table(lymph(BL, "N", "5", 12.0), lymph(F1, "N", "2", 1.0), lymph(F1, "X", "4", 5.0, role="new"))
    )
    assert categories(r) == ["PMD"]


def test_lugano_ct_single_node_progression():
    # Rule 70: a 22 x 20 mm node (nadir PPD 440) grows to 32 x 22 (PPD 704, +60 %, LDi +10 mm with LDi > 20 mm)
    # -> PD even though the other target shrank.
    def node(date, lid, ld, perp):
        return lesion(date, lid, ld, organ="lymph node", node=True, perpendicular_diameter_mm=perp)

    r = lugano.assess_patient(
        table(
            node(BL, "N1", 22.0, 20.0),
            node(BL, "N2", 50.0, 40.0),
            node(F1, "N1", 32.0, 22.0),
            node(F1, "N2", 30.0, 20.0),
        ),
        LuganoSettings(basis="ct"),
    )
    assert categories(r) == ["PD"]


# --- volumetric ----------------------------------------------------------------------------------------------


def test_volumetric_thresholds_configurable():
    # Sphere equivalents of RECIST (module docstring): -65 % -> PR, +73 % over the nadir -> PD.
    rows = [
        lesion(BL, "A", 40.0, volume_ml=30.0),
        lesion(F1, "A", 30.0, volume_ml=10.5),
        lesion(F2, "A", 35.0, volume_ml=18.2),
    ]
    assert categories(volumetric.assess_patient(table(*rows))) == ["PR", "PD"]
    strict = VolumetricSettings(pr_change=-0.70, pd_change=0.80)
    assert categories(volumetric.assess_patient(table(*rows), strict)) == ["SD", "SD"]
