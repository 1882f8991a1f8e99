-- Tables written by the ingest stage. Columns up to `payload` are the output contract; the
-- extracted identifier columns after it save later stages from re-parsing every payload.
create table if not exists raw_events (
    event_id      varchar not null,  -- md5 of the line (or Segment messageId), plus element index
    day           date not null,     -- the landing folder's day: the partition
    source_file   varchar not null,  -- path relative to the landing directory
    line_number   bigint not null,   -- 1-based line in source_file
    element_index integer not null,  -- 0 for a whole line, 1.. for an `events` array element
    source        varchar not null,  -- segment | client_api | identifier_api
    kind          varchar not null,  -- Segment type or API endpoint
    event_name    varchar,
    occurred_at   timestamp not null, -- UTC
    received_at   timestamp,          -- UTC
    -- the exact object received; zstd stores it in a quarter of the space, and faster
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

create table if not exists raw_event_rejects (
    day         date not null,
    source_file varchar not null,
    line_number bigint not null,
    raw_line    varchar using compression zstd,  -- the line as read; null for a blank line
    reason      varchar not null,    -- a stable code, e.g. invalid_json, no_identifier
    detail      varchar              -- what exactly was wrong, for a person
);

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
