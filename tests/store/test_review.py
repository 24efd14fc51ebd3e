"""Review tables without the web server: the migration, users and grants, and the overrides in force."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import inspect

from imagebio.errors import InvalidParameterError, StoreError
from imagebio.store import open_store, upsert_roi, upsert_subject, upsert_timepoint
from imagebio.store.review import ProjectGrant, User


@pytest.fixture
def store(tmp_path):
    opened = open_store(tmp_path / "review.db")
    yield opened
    opened.close()


def test_migration_creates_the_review_tables_without_drift(store):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from imagebio.store.models import Base
    from imagebio.store.session import alembic_config

    script = ScriptDirectory.from_config(alembic_config())
    assert script.get_revision("0003").down_revision is not None
    assert len(script.get_heads()) == 1
    tables = set(inspect(store.engine).get_table_names())
    assert {"users", "project_grants", "overrides", "audit_log"} <= tables
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": True})
        assert compare_metadata(context, Base.metadata) == []


def test_passwords_are_hashed_with_argon2_and_grants_accumulate(store):
    from imagebio.web.security import add_user, authenticate, can_see, has_role

    with store.session() as s:
        user = add_user(s, "reader", "long enough pw", "analyst", ["trial-a"])
        assert user.password_hash.startswith("$argon2id$") and "long enough pw" not in user.password_hash
        add_user(s, "reader", "another password", "viewer", ["trial-b"])
    with store.session(readonly=True) as s:
        assert authenticate(s, "reader", "long enough pw") is None
        user = authenticate(s, "reader", "another password")
        assert user is not None and user.role == "viewer"
        assert sorted(g.project for g in user.grants) == ["trial-a", "trial-b"]
        assert authenticate(s, "nobody", "another password") is None
    with store.session() as s:
        with pytest.raises(InvalidParameterError, match="password"):
            add_user(s, "short", "1234", "viewer")
        with pytest.raises(InvalidParameterError, match="role"):
            add_user(s, "someone", "long enough pw", "superuser")
    assert has_role("admin", "analyst") and has_role("analyst", "analyst") and not has_role("viewer", "analyst")

    class S:
        project = None

    assert can_see({"default"}, S()) and not can_see({"trial-a"}, S()) and can_see({"*"}, S())


def test_newest_override_wins_and_a_withdrawal_restores_the_computed_category(store):
    from imagebio.store.overrides import record_category_override, record_lesion_match, response_overrides
    from imagebio.web.security import add_user

    with store.session() as s:
        reader = add_user(s, "reader", "long enough pw", "analyst", ["*"])
        subject = upsert_subject(s, "P1")
        base = upsert_timepoint(s, subject, "1.2.1", study_datetime=datetime(2024, 1, 1))
        follow = upsert_timepoint(s, subject, "1.2.2", study_datetime=datetime(2024, 3, 1))
        roi = upsert_roi(s, subject, "lesion_b", timepoint=follow, lesion_id="lesion_b")
        record_lesion_match(s, roi, "lesion_a", "same site", reader)
        record_lesion_match(s, roi, None, "actually new", reader)
        record_category_override(s, follow, "recist11", "PR", "first read", reader)
        record_category_override(s, follow, "recist11", "SD", "second read", reader)
        record_category_override(s, base, "recist11", "NE", "x", reader)
        record_category_override(s, base, "recist11", None, "withdrawn", reader)
        ids = subject.id, roi.id, follow.id, base.id
    subject_id, roi_id, follow_id, base_id = ids
    with store.session(readonly=True) as s:
        by_id = response_overrides(s, subject_id)
        by_patient = response_overrides(s, "P1")
    assert by_id == by_patient
    match = by_id.lesion_matches[roi_id]
    assert (match.lesion_id, match.reason, match.user, match.roi_name) == (None, "actually new", "reader", "lesion_b")
    assert by_id.lesion_id_of(roi_id, "lesion_b") is None and by_id.lesion_id_of(999, "x") == "x"
    assert by_id.match_by_name(follow_id, "lesion_b") == match
    category = by_id.category_for("recist11", follow_id)
    assert (category.category, category.reason, category.timepoint_date) == ("SD", "second read", "2024-03-01")
    assert by_id.category_for("recist11", base_id) is None
    with store.session(readonly=True) as s, pytest.raises(StoreError):
        response_overrides(s, "nobody")
    with store.session() as s, pytest.raises(InvalidParameterError, match="reason"):
        record_category_override(s, s.get(type(follow), follow_id), "recist11", "PD", "  ",
                                 s.get(User, 1))


def test_deleting_a_user_keeps_the_override_name(store):
    from imagebio.store.overrides import record_lesion_match, response_overrides
    from imagebio.web.security import add_user

    with store.session() as s:
        reader = add_user(s, "gone", "long enough pw", "analyst", ["*"])
        subject = upsert_subject(s, "P2")
        tp = upsert_timepoint(s, subject, "1.3.1", study_datetime=datetime(2024, 1, 1))
        roi = upsert_roi(s, subject, "l1", timepoint=tp)
        record_lesion_match(s, roi, "l9", "why", reader)
    with store.session() as s:
        s.delete(s.get(User, reader.id))
    with store.session(readonly=True) as s:
        assert s.query(ProjectGrant).count() == 0
        assert response_overrides(s, "P2").lesion_matches[roi.id].user == "gone"
