"""Every dashboard endpoint: refused without login (401, or a redirect to /login for pages), refused across
projects (403), and working for a user of the subject's project."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

# name: (method, url template, JSON body or form data, is the URL bound to one subject's objects)
ENDPOINTS = {
    "me": ("GET", "/api/me", None, False),
    "subjects": ("GET", "/api/subjects", None, False),
    "subject": ("GET", "/api/subjects/{subject}", None, True),
    "timepoints": ("GET", "/api/subjects/{subject}/timepoints", None, True),
    "timepoint": ("GET", "/api/timepoints/{baseline}", None, True),
    "series_list": ("GET", "/api/series?subject_id={subject}", None, True),
    "series": ("GET", "/api/series/{ct}", None, True),
    "geometry": ("GET", "/api/series/{ct}/geometry", None, True),
    "slice": ("GET", "/api/series/{ct}/slice?z=5&window=soft_tissue&overlay=pet", None, True),
    "colorbar": ("GET", "/api/colorbar/suv", None, False),
    "lesions": ("GET", "/api/lesions?subject_id={subject}", None, True),
    "lesion": ("GET", "/api/lesions/{follow_roi}", None, True),
    "measurements": ("GET", "/api/measurements?subject_id={subject}", None, True),
    "measurement": ("GET", "/api/measurements/{measurement}", None, True),
    "dosimetry": ("GET", "/api/dosimetry?subject_id={subject}", None, True),
    "response": ("GET", "/api/subjects/{subject}/response", None, True),
    "overrides": ("GET", "/api/overrides?subject_id={subject}", None, True),
    "runs": ("GET", "/api/runs", None, False),
    "run": ("GET", "/api/runs/{run}", None, True),
    "match": ("POST", "/api/lesions/{follow_roi}/match", {"lesion_id": None, "reason": "test"}, True),
    "category": ("POST", "/api/timepoints/{follow}/response-override",
                 {"criteria": "volumetric", "category": "PR", "reason": "test"}, True),
    "audit": ("GET", "/api/audit", None, False),
    "page_cohort": ("GET", "/", None, False),
    "page_patient": ("GET", "/patients/{subject}", None, True),
    "page_viewer": ("GET", "/patients/{subject}/viewer", None, True),
    "page_report": ("GET", "/patients/{subject}/report", None, True),
    "form_match": ("POST", "/patients/{subject}/match", {"roi_id": "{follow_roi}", "lesion_id": "__new__",
                                                        "reason": "test"}, True),
    "form_category": ("POST", "/patients/{subject}/category", {"timepoint_id": "{follow}", "criteria": "volumetric",
                                                              "category": "PR", "reason": "test"}, True),
    "logout": ("POST", "/logout", {}, False),
}
BOUND = [name for name, spec in ENDPOINTS.items() if spec[3]]


def _url(template: str, ids: dict, which: str) -> str:
    values = dict(ids[which])
    values["run"] = ids["other_run"] if which == "other" else ids["shared_run"]
    return template.format(**values)


def _request(client, name, ids, which, csrf=None):
    method, template, body, _ = ENDPOINTS[name]
    url = _url(template, ids, which)
    if method == "GET":
        return client.get(url, follow_redirects=False)
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    if url.startswith("/api/"):
        return client.post(url, json=body, headers=headers, follow_redirects=False)
    data = {k: (v.format(**ids[which]) if isinstance(v, str) else v) for k, v in (body or {}).items()}
    if csrf:
        data["csrf_token"] = csrf
    return client.post(url, data=data, follow_redirects=False)


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_unauthenticated_is_refused(name, app, ids):
    from fastapi.testclient import TestClient

    with TestClient(app) as anonymous:
        response = _request(anonymous, name, ids, "own")
    method, template, _, _ = ENDPOINTS[name]
    if template.startswith("/api/"):
        assert response.status_code == 401, response.text
        assert "log in" in response.json()["detail"]
    elif method == "GET":
        assert response.status_code == 303 and response.headers["location"] == "/login"
    else:  # a form post without a session: no user (401) or no CSRF token (403), and nothing changed
        assert response.status_code in (401, 403)


@pytest.mark.parametrize("name", BOUND)
def test_cross_project_is_forbidden(name, client_for, ids):
    client, csrf = client_for("ana")  # analyst of project "default"; DP000-002 is in "other"
    response = _request(client, name, ids, "other", csrf)
    assert response.status_code == 403, (name, response.status_code, response.text[:200])


def test_lists_hide_other_projects(client_for, ids):
    client, _ = client_for("ana")
    subjects = client.get("/api/subjects").json()
    assert [s["id"] for s in subjects["items"]] == [ids["own"]["subject"]] and subjects["total"] == 1
    assert all(s["subject_id"] == ids["own"]["subject"] for s in client.get("/api/series").json()["items"])
    runs = client.get("/api/runs").json()["items"]
    assert ids["shared_run"] in [r["id"] for r in runs] and ids["other_run"] not in [r["id"] for r in runs]
    measurements = client.get("/api/measurements", params={"limit": 500}).json()
    assert measurements["total"] > 0
    admin, _ = client_for("adm")
    others = admin.get("/api/measurements", params={"subject_id": ids["other"]["subject"], "limit": 500}).json()
    assert others["total"] > 0
    assert not {m["id"] for m in measurements["items"]} & {m["id"] for m in others["items"]}
    assert measurements["total"] + others["total"] == admin.get("/api/measurements").json()["total"]
    page = client.get("/").text
    assert "DP000-001" in page and "DP000-002" not in page


@pytest.mark.parametrize("name", [n for n in ENDPOINTS if n not in ("match", "category", "form_match",
                                                                        "form_category", "logout", "audit")])
def test_own_project_works(name, client_for, ids):
    client, csrf = client_for("ana")
    response = _request(client, name, ids, "own", csrf)
    assert response.status_code == 200, (name, response.text[:300])
    if ENDPOINTS[name][1].startswith("/api/"):
        if name in ("slice", "colorbar"):
            assert response.headers["content-type"] == "image/png" and response.content[:8] == b"\x89PNG\r\n\x1a\n"
        else:
            body = response.json()
            if "items" in body:
                assert {"total", "limit", "offset"} <= set(body)


def test_pagination_and_filters(client_for, ids):
    client, _ = client_for("adm")
    page1 = client.get("/api/measurements", params={"limit": 5, "offset": 0}).json()
    page2 = client.get("/api/measurements", params={"limit": 5, "offset": 5}).json()
    assert len(page1["items"]) == 5 and page1["total"] == page2["total"] > 10
    assert not {m["id"] for m in page1["items"]} & {m["id"] for m in page2["items"]}
    volumes = client.get("/api/measurements", params={"name": "volume", "limit": 500}).json()
    assert volumes["total"] == 7 and all(m["name"] == "volume" and m["unit"] == "mL" for m in volumes["items"])
    ct = client.get("/api/series", params={"modality": "ct"}).json()
    assert ct["total"] == 4 and all(s["modality"] == "CT" for s in ct["items"])
    assert client.get("/api/subjects", params={"project": "other"}).json()["total"] == 1
    assert client.get("/api/measurements", params={"limit": 0}).status_code == 422
    assert client.get("/api/subjects/999999").status_code == 404


def test_viewer_role_cannot_change(client_for, ids):
    client, csrf = client_for("vic")
    assert _request(client, "match", ids, "own", csrf).status_code == 403
    assert _request(client, "form_category", ids, "own", csrf).status_code == 403
    assert client.get("/api/audit").status_code == 403


def test_changes_need_the_csrf_token(client_for, ids):
    client, _ = client_for("ana")
    assert _request(client, "match", ids, "own", csrf=None).status_code == 403
    assert _request(client, "match", ids, "own", csrf="forged").status_code == 403
    assert _request(client, "form_match", ids, "own", csrf=None).status_code == 403


def test_slice_tiles(client_for, ids):
    import io

    import numpy as np
    from matplotlib.image import imread

    client, _ = client_for("ana")
    geometry = client.get(f"/api/series/{ids['own']['ct']}/geometry").json()
    assert geometry["n_slices"] == 24 and geometry["spacing_mm"][0] > 0
    assert {"none", "pet", "adc"} <= set(geometry["overlays"]) and geometry["has_contours"]
    positions = geometry["slice_positions_mm"]
    assert np.allclose(np.diff(positions), geometry["spacing_mm"][0])
    mid = geometry["n_slices"] // 2
    images = {}
    for overlay in ("none", "pet", "adc"):
        for window in ("soft_tissue", "lung", "bone"):
            r = client.get(f"/api/series/{ids['own']['ct']}/slice",
                           params={"z": mid, "window": window, "overlay": overlay})
            assert r.status_code == 200
            images[overlay, window] = imread(io.BytesIO(r.content))
    grey = images["none", "soft_tissue"]
    assert grey.shape == (geometry["rows"], geometry["columns"], 3) and grey.std() > 0.02
    assert not np.array_equal(images["none", "soft_tissue"], images["none", "lung"])  # presets differ
    assert not np.array_equal(images["pet", "soft_tissue"], grey)  # the PET is fused in colour
    fused = images["pet", "soft_tissue"]
    assert np.abs(fused[..., 0] - fused[..., 2]).max() > 0.2  # colour, not grey
    no_contours = client.get(f"/api/series/{ids['own']['ct']}/slice",
                             params={"z": mid, "window": "soft_tissue", "contours": "false"})
    assert imread(io.BytesIO(no_contours.content)).tolist() != grey.tolist()  # contours drawn by default
    assert client.get(f"/api/series/{ids['own']['ct']}/slice", params={"z": 24}).status_code == 400
    assert client.get(f"/api/series/{ids['own']['seg']}/slice", params={"z": 0}).status_code == 400
    bar = client.get("/api/colorbar/adc")
    assert bar.headers["x-unit"] == "mm2/s" and float(bar.headers["x-range-high"]) == pytest.approx(3e-3)


def test_match_change_updates_response_and_is_recorded(client_for, ids, web_store):
    from imagebio.store.overrides import response_overrides

    client, csrf = client_for("oth")  # analyst of project "other" (DP000-002: lesion_1 at both visits)
    other = ids["other"]
    before = client.get(f"/api/subjects/{other['subject']}/response").json()["live"]["volumetric"]
    assert [t["category"] for t in before["timepoints"]] == ["baseline", "SD"]
    r = client.post(f"/api/lesions/{other['follow_roi']}/match", json={"lesion_id": None, "reason": "different site"},
                    headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    assert r.json()["match_overridden_by"] == "oth" and r.json()["matched_lesion_id"].startswith("lesion_1 (new")
    after = client.get(f"/api/subjects/{other['subject']}/response").json()
    follow = after["live"]["volumetric"]["timepoints"][1]
    assert follow["category"] == "PD" and any("new lesion" in reason for reason in follow["reasons"])
    assert after["overrides"][0]["kind"] == "lesion_match" and after["overrides"][0]["user"] == "oth"
    with web_store.session(readonly=True) as session:
        overrides = response_overrides(session, other["subject"])
    assert overrides.lesion_matches[other["follow_roi"]].lesion_id is None
    assert overrides.lesion_matches[other["follow_roi"]].reason == "different site"
    # A category override is shown as such, with the computed category kept; withdrawing restores it.
    r = client.post(f"/api/timepoints/{other['follow']}/response-override",
                    json={"criteria": "volumetric", "category": "NE", "reason": "motion artefact"},
                    headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["category"] == "NE"
    follow = client.get(f"/api/subjects/{other['subject']}/response").json()["live"]["volumetric"]["timepoints"][1]
    assert (follow["category"], follow["computed_category"], follow["overridden_by"]) == ("NE", "PD", "oth")
    page = client.get(f"/patients/{other['subject']}").text
    assert "overridden by oth: motion artefact (computed PD)" in page and "matched by oth" in page
    client.post(f"/api/timepoints/{other['follow']}/response-override",
                json={"criteria": "volumetric", "category": None, "reason": "withdrawn"}, headers={"X-CSRF-Token": csrf})
    follow = client.get(f"/api/subjects/{other['subject']}/response").json()["live"]["volumetric"]["timepoints"][1]
    assert follow["category"] == "PD" and follow["overridden_by"] is None
    # Matching back restores the computed response; a clash with another ROI of the visit is refused.
    r = client.post(f"/api/lesions/{other['follow_roi']}/match", json={"lesion_id": "lesion_1", "reason": "re-read"},
                    headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200
    follow = client.get(f"/api/subjects/{other['subject']}/response").json()["live"]["volumetric"]["timepoints"][1]
    assert follow["category"] == "SD"


def test_match_to_a_lesion_taken_by_another_roi_is_a_conflict(client_for, ids):
    client, csrf = client_for("ana")
    lesions = client.get("/api/lesions", params={"subject_id": ids["own"]["subject"],
                                                 "timepoint_id": ids["own"]["follow"]}).json()["items"]
    first, second = lesions[0], lesions[1]
    r = client.post(f"/api/lesions/{first['id']}/match", json={"lesion_id": second["matched_lesion_id"],
                                                               "reason": "x"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 409
    r = client.post(f"/api/lesions/{first['id']}/match", json={"lesion_id": "x", "reason": ""},
                    headers={"X-CSRF-Token": csrf})
    assert r.status_code == 422


def test_form_review_redirects_back_to_the_patient(client_for, ids):
    client, csrf = client_for("ana")
    own = ids["own"]
    r = client.post(f"/patients/{own['subject']}/category", data={
        "timepoint_id": own["follow"], "criteria": "volumetric", "category": "SD", "reason": "reader call",
        "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/patients/{own['subject']}#response"
    page = client.get(r.headers["location"]).text
    assert "overridden by ana: reader call (computed PD)" in page


def test_audit_log_records_views_and_changes_without_phi(client_for, ids):
    client, _ = client_for("ana")
    client.get(f"/patients/{ids['own']['subject']}")
    admin, _ = client_for("adm")
    entries = admin.get("/api/audit", params={"limit": 500}).json()["items"]
    mine = [e for e in entries if e["user"] == "ana"]
    assert any(e["path"] == f"/patients/{ids['own']['subject']}" and e["action"] == "view" for e in mine)
    assert any(e["action"] == "change" and e["method"] == "POST" for e in entries)
    assert any(e["action"] == "login" for e in entries) and any(e["action"] == "denied" for e in entries)
    assert not any("DP000" in (e["path"] or "") for e in entries)


def test_no_patient_id_in_any_url_of_the_pages(client_for, ids):
    import re

    client, _ = client_for("adm")
    pages = ["/", f"/patients/{ids['own']['subject']}", f"/patients/{ids['own']['subject']}/viewer"]
    for page in pages:
        html = client.get(page).text
        assert "DP000-001" in html  # the page shows it...
        urls = re.findall(r'(?:href|src|action)="([^"]*)"', html)
        assert urls and not [u for u in urls if "DP000" in u]  # ...but no link carries it


def test_login_failure_security_headers_and_cookie(app):
    from fastapi.testclient import TestClient

    from tests.web.conftest import csrf_from

    with TestClient(app) as client:
        page = client.get("/login")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        cookie = page.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        token = csrf_from(page.text)
        bad = client.post("/login", data={"username": "ana", "password": "wrong password", "csrf_token": token})
        assert bad.status_code == 401 and "Wrong user name or password" in bad.text
        unknown = client.post("/login", data={"username": "nobody", "password": "x" * 9, "csrf_token": token})
        assert unknown.status_code == 401
        forged = client.post("/login", data={"username": "ana", "password": "correct horse battery",
                                             "csrf_token": "forged"})
        assert forged.status_code == 403
