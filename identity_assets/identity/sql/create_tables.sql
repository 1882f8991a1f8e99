-- Tables of the identity stage. identifier_sightings and phone_numbers are its working state:
-- every identifier of every accepted event, and each distinct raw phone parsed once.
create table if not exists identifier_sightings (
    event_id         varchar not null,
    day              date not null,
    occurred_at      timestamp not null,
    identifier_type  varchar not null,   -- user_id, anonymous_id, email, phone, device_id, fbclid, gclid
    raw_value        varchar not null,   -- as received
    identifier_value varchar not null,   -- normalised (the raw value, trimmed, when it cannot be)
    problem          varchar             -- placeholder, invalid_email, invalid_phone or null
);

create table if not exists phone_numbers (
    raw_phone varchar not null,
    region    varchar not null,          -- default region the raw phone was parsed with
    e164      varchar,                   -- null when unparseable or not a valid number
    problem   varchar
);

create table if not exists identifiers (
    identifier_key   bigint not null,    -- stable integer handle for graph work
    identifier_type  varchar not null,
    identifier_value varchar not null,
    first_seen       timestamp not null,
    last_seen        timestamp not null,
    event_count      bigint not null,
    status           varchar not null,   -- linked or blocked
    block_reason     varchar
);

create table if not exists identity_map (
    identifier_type  varchar not null,
    identifier_value varchar not null,
    identity_id      varchar not null,
    identifier_key   bigint not null
);

create table if not exists identities (
    identity_id      varchar not null,
    first_seen       timestamp not null,
    last_seen        timestamp not null,
    identifier_count bigint not null,
    event_count      bigint not null,
    anchor_type      varchar not null,   -- the first-seen identifier the id is derived from
    anchor_value     varchar not null
);

create table if not exists identity_merges (
    identity_id          varchar not null,  -- the identity that survives (or is split from)
    absorbed_identity_id varchar not null,  -- merged into it, or split off it
    day                  date not null,
    reason               varchar not null
);

create table if not exists identity_days (
    day         date not null,
    ingested_at timestamp not null,         -- raw_files.ingested_at the sightings were built from
    resolved_at timestamp                   -- the run that built them: later stages follow it
);

-- Warehouses made before resolved_at existed gain it; their days read as never followed.
alter table identity_days add column if not exists resolved_at timestamp;

-- The identities whose members moved in a run (merged away, split, re-anchored, lost an
-- identifier to a block). Later stages re-derive the rows of these identities only.
create table if not exists identity_changes (
    changed_at  timestamp not null,         -- the run's transaction time
    identity_id varchar not null            -- the identity as it was before the run
);
