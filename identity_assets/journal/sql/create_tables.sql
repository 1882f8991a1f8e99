-- Tables of the journal stage, both in the output contract.
create table if not exists identity_journal (
    identity_id    varchar not null,
    event_id       varchar not null,
    occurred_at    timestamp not null,
    payload        json not null using compression zstd,
    day            date not null,
    source         varchar not null,
    kind           varchar not null,
    event_name     varchar,
    identifier_key bigint not null,
    traits         json
);

-- Column comments are the descriptions the assets declare (identity_assets/metadata.py).
comment on column identity_journal.event_id is 'raw_events.event_id';
comment on column identity_journal.occurred_at is 'UTC';
comment on column identity_journal.payload is 'the exact object received';
comment on column identity_journal.day is 'the landing day';
comment on column identity_journal.source is 'segment, client_api or identifier_api';
comment on column identity_journal.kind is 'Segment type or API endpoint';
comment on column identity_journal.identifier_key is 'the event''s placing identifier: why it is here';
comment on column identity_journal.traits is 'the traits the event carries, by snake_case name';

create table if not exists customer_profiles (
    identity_id varchar not null,
    email       varchar,
    phone       varchar,
    name        varchar,
    first_name  varchar,
    last_name   varchar,
    created_at  varchar,
    traits      json,
    identifiers json,
    sources     varchar[],
    first_seen  timestamp not null,
    last_seen   timestamp not null,
    event_count bigint not null
);

comment on column customer_profiles.email is 'latest email trait, as received (trimmed)';
comment on column customer_profiles.phone is 'latest phone trait, as received (trimmed)';
comment on column customer_profiles.name is 'full name; first and last name when none was sent';
comment on column customer_profiles.first_name is 'latest non-empty value received';
comment on column customer_profiles.last_name is 'latest non-empty value received';
comment on column customer_profiles.created_at is 'latest non-empty value received';
comment on column customer_profiles.traits is 'every other trait by its snake_case name';
comment on column customer_profiles.identifiers is 'every known identifier, grouped by type: {"email": [...], ...}';
comment on column customer_profiles.sources is 'the sources its events came from';

-- Each identity's latest value of each trait and the event that sent it: a new day's traits are
-- folded into its profile against these, never against its whole journal (decision 0022).
create table if not exists profile_traits (
    identity_id varchar not null,
    trait       varchar not null,
    value       json not null,
    occurred_at timestamp not null,
    event_id    varchar not null
);

-- The click ids (fbclid, gclid, trimmed) of each landed day's events: they never link, so
-- profiles list them from their rows' events, and reading them here rather than from
-- raw_events keeps a rebuilt profile from scanning every event ever received.
create table if not exists journal_click_ids (
    event_id         varchar not null,
    day              date not null,
    identifier_type  varchar not null,
    identifier_value varchar not null
);

-- No index on the journal: look-ups read the serving snapshot, which has its own, and DuckDB
-- turns an update of an indexed column into a delete and an insert of whole rows, so the rows
-- of a merge could not follow it in place (decision 0025).
drop index if exists identity_journal_by_identity;

-- Nor on the profiles: a day's profiles are replaced by a delete and an insert, and an index made
-- that run's commit write and check it again (decision 0045); a look-up on a warehouse without
-- a snapshot scans the table, 11 ms at 783,424 profiles.
drop index if exists customer_profiles_by_identity;

-- Bookkeeping of warehouses built before the change protocol (decision 0006).
drop table if exists journal_days;
drop table if exists journal_progress;
