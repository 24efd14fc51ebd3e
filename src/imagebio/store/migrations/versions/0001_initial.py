"""Initial schema: subjects, timepoints, series, rois, measurements, runs, run_subjects.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('command', sa.Text(), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=True),
    sa.Column('software_version', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('running', 'done', 'partial', 'failed')", name=op.f('ck_runs_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_runs'))
    )
    op.create_table('subjects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.String(length=64), nullable=False),
    sa.Column('sex', sa.String(length=16), nullable=True),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('project', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subjects')),
    sa.UniqueConstraint('patient_id', name=op.f('uq_subjects_patient_id'))
    )
    with op.batch_alter_table('subjects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subjects_project'), ['project'], unique=False)

    op.create_table('run_subjects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'running', 'done', 'failed')", name=op.f('ck_run_subjects_status')),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_run_subjects_run_id_runs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_run_subjects_subject_id_subjects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_run_subjects')),
    sa.UniqueConstraint('run_id', 'subject_id', name=op.f('uq_run_subjects_run_id_subject_id'))
    )
    with op.batch_alter_table('run_subjects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_run_subjects_subject_id'), ['subject_id'], unique=False)

    op.create_table('timepoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_instance_uid', sa.String(length=64), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('study_datetime', sa.DateTime(), nullable=True),
    sa.Column('description', sa.String(length=256), nullable=True),
    sa.Column('label', sa.String(length=64), nullable=True),
    sa.Column('days_since_baseline', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_timepoints_subject_id_subjects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_timepoints')),
    sa.UniqueConstraint('study_instance_uid', name=op.f('uq_timepoints_study_instance_uid'))
    )
    with op.batch_alter_table('timepoints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_timepoints_subject_id'), ['subject_id'], unique=False)

    op.create_table('series',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('series_instance_uid', sa.String(length=64), nullable=False),
    sa.Column('timepoint_id', sa.Integer(), nullable=False),
    sa.Column('modality', sa.String(length=16), nullable=True),
    sa.Column('description', sa.String(length=256), nullable=True),
    sa.Column('frame_of_reference_uid', sa.String(length=64), nullable=True),
    sa.Column('sop_class_uid', sa.String(length=64), nullable=True),
    sa.Column('n_files', sa.Integer(), nullable=False),
    sa.Column('path', sa.Text(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('image', 'seg', 'rtstruct', 'rtdose', 'rtplan', 'sr', 'reg', 'other')", name=op.f('ck_series_kind')),
    sa.ForeignKeyConstraint(['timepoint_id'], ['timepoints.id'], name=op.f('fk_series_timepoint_id_timepoints'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_series')),
    sa.UniqueConstraint('series_instance_uid', name=op.f('uq_series_series_instance_uid'))
    )
    with op.batch_alter_table('series', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_series_modality'), ['modality'], unique=False)
        batch_op.create_index(batch_op.f('ix_series_timepoint_id'), ['timepoint_id'], unique=False)

    op.create_table('rois',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('timepoint_id', sa.Integer(), nullable=True),
    sa.Column('series_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('label', sa.Integer(), nullable=True),
    sa.Column('lesion_id', sa.String(length=64), nullable=True),
    sa.Column('organ', sa.String(length=64), nullable=True),
    sa.Column('source_series_id', sa.Integer(), nullable=True),
    sa.Column('source_path', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['series_id'], ['series.id'], name=op.f('fk_rois_series_id_series'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['source_series_id'], ['series.id'], name=op.f('fk_rois_source_series_id_series'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_rois_subject_id_subjects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['timepoint_id'], ['timepoints.id'], name=op.f('fk_rois_timepoint_id_timepoints'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rois'))
    )
    with op.batch_alter_table('rois', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rois_lesion_id'), ['lesion_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rois_series_id'), ['series_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rois_subject_id'), ['subject_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rois_timepoint_id'), ['timepoint_id'], unique=False)

    op.create_table('measurements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('roi_id', sa.Integer(), nullable=False),
    sa.Column('series_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('unit', sa.String(length=32), nullable=True),
    sa.Column('method', sa.String(length=64), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=True),
    sa.Column('settings_hash', sa.String(length=64), nullable=False),
    sa.Column('software_version', sa.String(length=64), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['roi_id'], ['rois.id'], name=op.f('fk_measurements_roi_id_rois'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_measurements_run_id_runs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['series_id'], ['series.id'], name=op.f('fk_measurements_series_id_series'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_measurements')),
    sa.UniqueConstraint('roi_id', 'series_id', 'name', 'method', 'settings_hash', name=op.f('uq_measurements_roi_id_series_id_name_method_settings_hash'))
    )
    with op.batch_alter_table('measurements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_measurements_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_measurements_run_id'), ['run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_measurements_series_id'), ['series_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('measurements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_measurements_series_id'))
        batch_op.drop_index(batch_op.f('ix_measurements_run_id'))
        batch_op.drop_index(batch_op.f('ix_measurements_name'))

    op.drop_table('measurements')
    with op.batch_alter_table('rois', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rois_timepoint_id'))
        batch_op.drop_index(batch_op.f('ix_rois_subject_id'))
        batch_op.drop_index(batch_op.f('ix_rois_series_id'))
        batch_op.drop_index(batch_op.f('ix_rois_lesion_id'))

    op.drop_table('rois')
    with op.batch_alter_table('series', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_series_timepoint_id'))
        batch_op.drop_index(batch_op.f('ix_series_modality'))

    op.drop_table('series')
    with op.batch_alter_table('timepoints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_timepoints_subject_id'))

    op.drop_table('timepoints')
    with op.batch_alter_table('run_subjects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_subjects_subject_id'))

    op.drop_table('run_subjects')
    with op.batch_alter_table('subjects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subjects_project'))

    op.drop_table('subjects')
    op.drop_table('runs')
