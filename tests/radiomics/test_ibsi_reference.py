"""IBSI 1 reference values: digital phantom and CT phantom configurations A, B, C.

Every row with a reference value whose family is implemented is checked with the IBSI matching rule and the
table's own tolerance (see ``tests/data/ibsi/SOURCE.md``). Texture families are included as soon as their module
(``imagebio.radiomics.texture.<name>``) is present.
"""

from __future__ import annotations

import importlib.util

import pytest

from ._ibsi_tables import IBSI_CONFIGS, IBSI_SUMMARY, ibsi_match, read_reference_rows, tag_family

_OWN_FAMILIES = {"diag", "morph", "loc", "stat", "ih", "ivh"}
_TEXTURE_FAMILIES = {"cm": "glcm", "rlm": "glrlm", "szm": "glszm", "dzm": "gldzm", "ngt": "ngtdm", "ngl": "ngldm"}


def _implemented(family: str) -> bool:
    if family in _OWN_FAMILIES:
        return True
    module = _TEXTURE_FAMILIES.get(family)
    return module is not None and importlib.util.find_spec(f"imagebio.radiomics.texture.{module}") is not None


def _cases():
    for config in IBSI_CONFIGS:
        for row in read_reference_rows(config):
            family = tag_family(row["tag"])
            if _implemented(family):
                yield pytest.param(config, row, id=f"{config}-{row['tag']}",
                                   marks=[pytest.mark.slow] if config != "digital_phantom" else [])


@pytest.mark.parametrize(("config", "row"), list(_cases()))
def test_ibsi_reference_value(config, row, ibsi_features):
    features = ibsi_features(config)
    tag = row["tag"]
    counts = IBSI_SUMMARY[(config, tag_family(tag))]
    counts[1] += 1
    assert tag in features, f"{tag} not computed for {config}"
    value = features[tag]
    ok = ibsi_match(value, row["reference value"], float(row["tolerance"] or 0))
    counts[0] += ok
    assert ok, f"{config} {tag}: ours {value!r}, reference {row['reference value']} ± {row['tolerance'] or 0}"


def test_every_own_family_is_covered():
    """The parametrisation really contains the families this package claims (guards against silent filtering)."""
    for config in IBSI_CONFIGS:
        families = {tag_family(r["tag"]) for r in read_reference_rows(config)}
        expected = {"morph", "loc", "stat", "ih", "ivh"} | ({"diag"} if config != "digital_phantom" else set())
        assert expected <= families
