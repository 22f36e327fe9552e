"""coordination: urgent alerts (alerted_at, quiet hours, alerts off), report history, meeting length and closures

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 17:45:00
"""
from alembic import op
import sqlalchemy as sa
import storage.base


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.add_column(sa.Column('alerted_at', storage.base.UTCDateTime(timezone=True), nullable=True))
    # Reports made before alerts existed are not alerted now (no flood of old urgencies at the upgrade).
    op.execute("update report set alerted_at = created_at")
    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.add_column(sa.Column('duration_minutes', sa.Integer(), server_default='120', nullable=False))

    op.create_table('report_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('at', storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['member.id'], name=op.f('fk_report_event_actor_id_member'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], name=op.f('fk_report_event_report_id_report'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_event'))
    )
    with op.batch_alter_table('report_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_event_report_id'), ['report_id'], unique=False)

    op.create_table('alert_quiet_hours',
    sa.Column('territory_id', sa.Integer(), nullable=False),
    sa.Column('starts', sa.String(length=5), nullable=False),
    sa.Column('ends', sa.String(length=5), nullable=False),
    sa.Column('updated_at', storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['territory_id'], ['territory.id'], name=op.f('fk_alert_quiet_hours_territory_id_territory'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by'], ['member.id'], name=op.f('fk_alert_quiet_hours_updated_by_member'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('territory_id', name=op.f('pk_alert_quiet_hours'))
    )
    op.create_table('alert_off',
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('since', storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_alert_off_member_id_member'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('member_id', name=op.f('pk_alert_off'))
    )

    op.create_table('meeting_closure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('occurrence', storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('held_at', storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('others', sa.Integer(), nullable=False),
    sa.Column('structures', sa.Integer(), nullable=False),
    sa.Column('closed_by', sa.Integer(), nullable=True),
    sa.Column('closed_at', storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['closed_by'], ['member.id'], name=op.f('fk_meeting_closure_closed_by_member'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_meeting_closure_meeting_id_meeting'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_closure')),
    sa.UniqueConstraint('meeting_id', 'occurrence', name=op.f('uq_meeting_closure_meeting_id_occurrence'))
    )
    with op.batch_alter_table('meeting_closure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meeting_closure_meeting_id'), ['meeting_id'], unique=False)
    op.create_table('meeting_attendance',
    sa.Column('closure_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['closure_id'], ['meeting_closure.id'], name=op.f('fk_meeting_attendance_closure_id_meeting_closure'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_meeting_attendance_member_id_member'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('closure_id', 'member_id', name=op.f('pk_meeting_attendance'))
    )
    op.create_table('meeting_action',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('closure_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['closure_id'], ['meeting_closure.id'], name=op.f('fk_meeting_action_closure_id_meeting_closure'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_action'))
    )
    with op.batch_alter_table('meeting_action', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meeting_action_closure_id'), ['closure_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('meeting_action', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meeting_action_closure_id'))
    op.drop_table('meeting_action')
    op.drop_table('meeting_attendance')
    with op.batch_alter_table('meeting_closure', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meeting_closure_meeting_id'))
    op.drop_table('meeting_closure')
    op.drop_table('alert_off')
    op.drop_table('alert_quiet_hours')
    with op.batch_alter_table('report_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_event_report_id'))
    op.drop_table('report_event')
    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.drop_column('duration_minutes')
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.drop_column('alerted_at')
