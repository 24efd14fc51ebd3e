"""Anthropometric body-size measures used to normalise PET uptake (SUV variants).

Every function takes the weight in kg and the height in m (as DICOM ``PatientWeight`` and ``PatientSize`` store
them) and returns kg or m². ``sex`` is ``"M"``, ``"F"`` or ``"O"``; for ``"O"`` (other) the sex-specific formulas
are averaged, as the OncoRay SUV manual recommends (Vácha et al., "Comprehensive Manual for SUV Computation and
Digital Reference Objects for its Verification", OncoRay Dresden, v1): "there is currently no consensus on the
computation of LBM and IBW when PatientSex is specified as O. Using the mean value of the sex-specific factors
appears to be a reasonable and simple solution."

Formulas use the height in cm (``H_cm = 100 · height_m``) where their source does.
"""

from __future__ import annotations

from imagebio.errors import InvalidParameterError

__all__ = [
    "SEXES",
    "bmi_kg_per_m2",
    "lbm_james_kg",
    "lbm_janmahasatian_kg",
    "bsa_du_bois_m2",
    "ibw_kg",
]

#: Accepted values of ``sex`` (DICOM PatientSex): male, female, other.
SEXES = ("M", "F", "O")


def _check_body(weight_kg: float | None, height_m: float | None) -> None:
    if weight_kg is not None and not (weight_kg > 0):
        raise InvalidParameterError("weight_kg", weight_kg, "a positive body weight in kg")
    if height_m is not None and not (height_m > 0):
        raise InvalidParameterError("height_m", height_m, "a positive height in m")


def _by_sex(sex: str, male: float, female: float) -> float:
    if sex == "M":
        return male
    if sex == "F":
        return female
    if sex == "O":
        return 0.5 * (male + female)
    raise InvalidParameterError("sex", sex, f"one of {SEXES}")


def bmi_kg_per_m2(weight_kg: float, height_m: float) -> float:
    """Body-mass index ``W / H²`` in kg/m² (W in kg, H in m)."""
    _check_body(weight_kg, height_m)
    return weight_kg / height_m**2


def lbm_james_kg(weight_kg: float, height_m: float, sex: str, male_constant: float = 128.0) -> float:
    """Lean body mass by the James formula, in kg.

    * male:   ``1.10·W − c·(W/H_cm)²`` with ``c = male_constant``
    * female: ``1.07·W − 148·(W/H_cm)²``
    * other:  mean of the two

    W in kg, H_cm in cm.

    Parameters
    ----------
    weight_kg, height_m : float
        Body weight (kg) and height (m).
    sex : {"M", "F", "O"}
    male_constant : float
        128 is the James (1976) constant that DICOM's SUV Type ``LBMJAMES128`` (PS3.3 C.8.9.1.1.3) and the OncoRay
        DROs use. 120 is the "Morgan" variant that DICOM's older SUV Type ``LBM`` and the calculate-suv library use.

    References
    ----------
    James WPT, Waterlow JC. Research on obesity. HMSO, London, 1976. Morgan DJ, Bray KM. Lean body mass as a
    predictor of drug dosage. Clin Pharmacokinet 1994;26:292-307. Sugawara Y et al. Radiology 1999;213:521-525.
    """
    _check_body(weight_kg, height_m)
    ratio_sq = (weight_kg / (100.0 * height_m)) ** 2
    return _by_sex(sex, 1.10 * weight_kg - male_constant * ratio_sq, 1.07 * weight_kg - 148.0 * ratio_sq)


def lbm_janmahasatian_kg(weight_kg: float, height_m: float, sex: str) -> float:
    """Lean body mass by Janmahasatian et al. (2005), in kg (the PERCIST "SUL" normaliser).

    * male:   ``9270·W / (6680 + 216·BMI)``
    * female: ``9270·W / (8780 + 244·BMI)``
    * other:  mean of the two

    W in kg, BMI = W/H² in kg/m².

    References
    ----------
    Janmahasatian S, Duffull SB, Ash S, Ward LC, Byrne NM, Green B. Quantification of lean bodyweight.
    Clin Pharmacokinet 2005;44:1051-1065. Wahl RL et al. From RECIST to PERCIST. J Nucl Med 2009;50:122S-150S.
    """
    bmi = bmi_kg_per_m2(weight_kg, height_m)
    return _by_sex(sex, 9270.0 * weight_kg / (6680.0 + 216.0 * bmi), 9270.0 * weight_kg / (8780.0 + 244.0 * bmi))


def bsa_du_bois_m2(weight_kg: float, height_m: float) -> float:
    """Body surface area by Du Bois & Du Bois (1916), in m²: ``0.007184 · H_cm^0.725 · W^0.425``.

    References
    ----------
    Du Bois D, Du Bois EF. A formula to estimate the approximate surface area if height and weight be known.
    Arch Intern Med 1916;17:863-871. DICOM PS3.3 C.8.9.1.1.3 (SUV Type BSA, Units CM2ML).
    """
    _check_body(weight_kg, height_m)
    return 0.007184 * (100.0 * height_m) ** 0.725 * weight_kg**0.425


def ibw_kg(height_m: float, sex: str) -> float:
    """Ideal body weight, in kg, as in the OncoRay SUV manual (Devine-type formula).

    * male:   ``48.0 + 1.06·(H_cm − 152)``
    * female: ``45.5 + 0.91·(H_cm − 152)``
    * other:  mean of the two

    References
    ----------
    Vácha M et al., OncoRay SUV manual v1 (SUV Type IBW); Devine BJ. Drug Intell Clin Pharm 1974;8:650-655.
    """
    _check_body(None, height_m)
    height_cm = 100.0 * height_m
    return _by_sex(sex, 48.0 + 1.06 * (height_cm - 152.0), 45.5 + 0.91 * (height_cm - 152.0))
