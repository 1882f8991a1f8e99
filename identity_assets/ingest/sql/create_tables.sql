-- Tables written by the ingest stage. Columns up to `payload` are the output contract; the
-- extracted identifier columns after it save later stages from re-parsing every payload.
create table if not exists raw_events (
    event_id      varchar not null,
    day           date not null,
    source_file   varchar not null,
    line_number   bigint not null,
    element_index integer not null,
    source        varchar not null,
    kind          varchar not null,
    event_name    varchar,
    occurred_at   timestamp not null,
    received_at   timestamp,
    -- zstd stores payloads in a quarter of the space, and faster
    payload       json not null using compression zstd,
    message_id    varchar,
    user_id       varchar,
    anonymous_id  varchar,
    previous_id   varchar,
    email         varchar,
    phone         varchar,
    device_id     varchar,
    platform      varchar,
    fbclid        varchar,
    gclid         varchar
);

-- Column comments are the descriptions the assets declare (identity_assets/metadata.py).
comment on column raw_events.event_id is 'md5 of the line (or Segment messageId), plus element index';
comment on column raw_events.day is 'the landing folder''s day: the partition';
comment on column raw_events.source_file is 'path relative to the landing directory';
comment on column raw_events.line_number is '1-based line in source_file';
comment on column raw_events.element_index is '0 for a whole line, 1.. for an `events` array element';
comment on column raw_events.source is 'segment, client_api or identifier_api';
comment on column raw_events.kind is 'Segment type or API endpoint';
comment on column raw_events.occurred_at is 'UTC';
comment on column raw_events.received_at is 'UTC';
comment on column raw_events.payload is 'the exact object received';
comment on column raw_events.message_id is 'Segment messageId, when sent';
comment on column raw_events.user_id is 'raw, before normalisation, as are the identifier columns after it';

-- UID2 hashes sent as input (`email_hash` / `phone_hash` in an API body or in traits).
alter table raw_events add column if not exists email_hash varchar;
alter table raw_events add column if not exists phone_hash varchar;

create table if not exists raw_event_rejects (
    day         date not null,
    source_file varchar not null,
    line_number bigint not null,
    raw_line    varchar using compression zstd,
    reason      varchar not null,
    detail      varchar
);

comment on column raw_event_rejects.day is 'the landing folder''s day: the partition';
comment on column raw_event_rejects.source_file is 'path relative to the landing directory';
comment on column raw_event_rejects.line_number is '1-based line in source_file';
comment on column raw_event_rejects.raw_line is 'the line exactly as read; null for a blank line';
comment on column raw_event_rejects.reason is 'a stable code, e.g. invalid_json, no_identifier';
comment on column raw_event_rejects.detail is 'what exactly was wrong, for a person';

create table if not exists raw_files (
    day             date not null,
    source_file     varchar not null,
    bytes           bigint not null,
    modified_at     timestamp not null,
    lines_read      bigint not null,
    lines_accepted  bigint not null,
    lines_rejected  bigint not null,
    events_accepted bigint not null,
    ingested_at     timestamp not null
);

comment on column raw_files.day is 'the landing folder''s day: the partition';
comment on column raw_files.source_file is 'path relative to the landing directory';
comment on column raw_files.bytes is 'file size as landed (compressed for .gz)';
comment on column raw_files.modified_at is 'the file''s modification time when read';
comment on column raw_files.lines_read is 'lines_accepted + lines_rejected';
comment on column raw_files.events_accepted is 'an `events` array line counts each element';
comment on column raw_files.ingested_at is 'when the file was read into the warehouse';

-- Every stored event's id as a number (the low 64 bits of its md5), by day: what a batch's
-- duplicate check scans instead of every stored event_id string, so a new day reads a few
-- bytes per stored event. Filled from raw_events once when a warehouse lacks it; then kept in
-- the transaction that replaces a day.
create table if not exists raw_event_keys as
select day, md5_number_lower(event_id) as event_key
from raw_events
order by day;
