-- Tables of the segments stage, both in the output contract. segment_updates is an outbox:
-- a change is queued once, and its row records how delivery went.
create table if not exists segment_membership (
    identity_id varchar not null,
    segment     varchar not null,
    since       timestamp not null        -- when this membership began
);

create table if not exists segment_updates (
    update_id        varchar not null,    -- stable: the nth change of this identity and segment
    identity_id      varchar not null,
    segment          varchar not null,
    change           varchar not null,    -- entered or exited
    payload          json not null,       -- the request body, in the identifier API's shape
    status           varchar not null,    -- pending, sent or failed
    attempts         integer not null,
    last_http_status integer,
    last_error       varchar,
    sent_at          timestamp,
    queued_at        timestamp not null,
    queue_seq        bigint not null,     -- order of queuing: a pair's changes go out in order
    dispatched_at    timestamp            -- set while a request may be in flight
);
