"""Per-task state of cohort pipeline runs: run_tasks.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('run_tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('task_key', sa.String(length=64), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=True),
    sa.Column('timepoint_id', sa.Integer(), nullable=True),
    sa.Column('analysis', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('settings_hash', sa.String(length=64), nullable=False),
    sa.Column('software_version', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('n_values', sa.Integer(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'running', 'done', 'failed', 'skipped')", name=op.f('ck_run_tasks_status')),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_run_tasks_run_id_runs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_run_tasks_subject_id_subjects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['timepoint_id'], ['timepoints.id'], name=op.f('fk_run_tasks_timepoint_id_timepoints'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_run_tasks')),
    sa.UniqueConstraint('run_id', 'task_key', name=op.f('uq_run_tasks_run_id_task_key'))
    )
    with op.batch_alter_table('run_tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_run_tasks_subject_id'), ['subject_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_run_tasks_task_key'), ['task_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('run_tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_tasks_task_key'))
        batch_op.drop_index(batch_op.f('ix_run_tasks_subject_id'))

    op.drop_table('run_tasks')
