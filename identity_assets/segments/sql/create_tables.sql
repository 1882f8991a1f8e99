-- Tables of the segments stage, both in the output contract. segment_updates is an outbox:
-- a change is queued once, and its row records how delivery went.
create table if not exists segment_membership (
    identity_id varchar not null,
    segment     varchar not null,
    since       timestamp not null
);

create table if not exists segment_updates (
    update_id        varchar not null,
    identity_id      varchar not null,
    segment          varchar not null,
    change           varchar not null,
    payload          json not null,       -- the request body, in the identifier API's shape
    status           varchar not null,
    attempts         integer not null,
    last_http_status integer,
    last_error       varchar,
    sent_at          timestamp,
    queued_at        timestamp not null,
    queue_seq        bigint not null,
    dispatched_at    timestamp
);

-- Each identity and segment's last queued change, and how many it has had: what the next queue
-- compares membership with. The outbox grows by every day's changes, and its delivered rows may
-- be archived; this holds one row per identity and segment ever queued. A warehouse without it
-- fills it from the outbox once.
create table if not exists segment_last_changes as
select identity_id, segment, arg_max(change, queue_seq) as change, count(*)::bigint as changes
from segment_updates
group by identity_id, segment;

-- Column comments are the descriptions the assets declare (identity_assets/metadata.py).
comment on column segment_membership.segment is 'high_value_predicted, lapsing_buyers, new_customers, ...';
comment on column segment_membership.since is 'when the membership began';
comment on column segment_updates.update_id is 'stable id, also inside the payload: the nth change of this identity and segment';
comment on column segment_updates.change is 'entered or exited';
comment on column segment_updates.payload is 'POST /identifier body';
comment on column segment_updates.status is 'pending, sent or failed';
comment on column segment_updates.attempts is 'requests made, over all runs';
comment on column segment_updates.last_error is 'the API''s message';
comment on column segment_updates.queue_seq is 'order of queuing: a pair''s changes go out in order';
comment on column segment_updates.dispatched_at is 'set while a request may be in flight';
