"""Fixtures of the dashboard tests: the demo store (built once per session), users, and logged-in clients.

The demo cohort's two subjects are put in two projects: DP000-001 in ``default`` (no project stored) and
DP000-002 in ``other``, so that cross-project access can be tested.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

PASSWORD = "correct horse battery"
USERS = {
    # name: (role, projects)
    "ana": ("analyst", ["default"]),
    "vic": ("viewer", ["default"]),
    "adm": ("admin", ["*"]),
    "oth": ("analyst", ["other"]),
}


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    """The demo cohort (2 digital patients: DICOM, store with lesion measurements), built once."""
    from imagebio.pipeline.demo import run_demo

    out = tmp_path_factory.mktemp("web_demo")
    run_demo(out, n_patients=2)
    return out


@pytest.fixture(scope="session")
def demo_template(demo_dir, tmp_path_factory) -> Path:
    """A copy of the demo store with projects, users, and a run that touched only DP000-002."""
    from sqlalchemy import select

    from imagebio.store import Subject, finish_run, mark_subject, open_store, start_run
    from imagebio.web.security import add_user

    target = tmp_path_factory.mktemp("web_template") / "imagebio.db"
    shutil.copy(demo_dir / "imagebio.db", target)
    store = open_store(target)
    with store.session() as session:
        other = session.scalars(select(Subject).where(Subject.patient_id == "DP000-002")).one()
        other.project = "other"
        run = start_run(session, "other-project-only", {})
        mark_subject(session, run.id, other.id, "done")
        finish_run(session, run.id)
        for name, (role, projects) in USERS.items():
            add_user(session, name, PASSWORD, role, projects)
    store.close()
    return target


@pytest.fixture(scope="module")
def web_store(demo_template, tmp_path_factory):
    """A private copy of the template store per test module (tests that write do not leak into others)."""
    from imagebio.store import open_store

    path = tmp_path_factory.mktemp("web_store") / "imagebio.db"
    shutil.copy(demo_template, path)
    store = open_store(path)
    yield store
    store.close()


@pytest.fixture(scope="module")
def app(web_store):
    from imagebio.web.app import create_app

    return create_app(web_store, secret_key="test-secret-key-" + "x" * 32)


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(client, username: str, password: str = PASSWORD) -> str:
    """Log ``client`` in through the form; returns the session's CSRF token."""
    token = csrf_from(client.get("/login").text)
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    return csrf_from(client.get("/").text)


@pytest.fixture(scope="module")
def client_for(app):
    """``client_for(name)`` → (TestClient logged in as that user, CSRF token)."""
    from fastapi.testclient import TestClient

    clients = {}

    def make(name: str):
        if name not in clients:
            client = TestClient(app)
            clients[name] = (client, login(client, name))
        return clients[name]

    yield make
    for client, _ in clients.values():
        client.close()


@pytest.fixture(scope="module")
def ids(web_store) -> dict:
    """Store ids of the demo objects: subjects, time points, series, lesion ROIs, measurements, runs."""
    from sqlalchemy import select

    from imagebio.store import Measurement, Roi, Run, Series, Subject, Timepoint

    out = {}
    with web_store.session(readonly=True) as s:
        for key, pid in (("own", "DP000-001"), ("other", "DP000-002")):
            subject = s.scalars(select(Subject).where(Subject.patient_id == pid)).one()
            tps = s.scalars(select(Timepoint).where(Timepoint.subject_id == subject.id)
                            .order_by(Timepoint.study_datetime)).all()
            ct = s.scalars(select(Series).where(Series.timepoint_id == tps[0].id, Series.modality == "CT")).one()
            seg = s.scalars(select(Series).where(Series.timepoint_id == tps[0].id, Series.kind == "seg")).one()
            follow_roi = s.scalars(select(Roi).where(Roi.timepoint_id == tps[-1].id).order_by(Roi.name)).first()
            measurement = s.scalars(select(Measurement).where(Measurement.roi_id == follow_roi.id)).first()
            out[key] = {"subject": subject.id, "baseline": tps[0].id, "follow": tps[-1].id, "ct": ct.id,
                        "seg": seg.id, "follow_roi": follow_roi.id, "measurement": measurement.id}
        out["shared_run"] = s.scalars(select(Run).where(Run.command == "lesion-biomarkers")).first().id
        out["other_run"] = s.scalars(select(Run).where(Run.command == "other-project-only")).one().id
    return out
