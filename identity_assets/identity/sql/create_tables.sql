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
    identifier_key   bigint not null,
    identifier_type  varchar not null,
    identifier_value varchar not null,
    first_seen       timestamp not null,
    last_seen        timestamp not null,
    event_count      bigint not null,
    status           varchar not null,
    block_reason     varchar
);

-- Column comments are the descriptions the assets declare (identity_assets/metadata.py).
comment on column identifiers.identifier_key is 'stable integer handle for graph work';
comment on column identifiers.identifier_type is 'user_id, anonymous_id, email, phone, device_id, fbclid, gclid';
comment on column identifiers.identifier_value is 'normalised value';
comment on column identifiers.event_count is 'events it was seen in';
comment on column identifiers.status is 'linked or blocked';
comment on column identifiers.block_reason is 'placeholder, invalid_phone, shared: ...';

create table if not exists identity_map (
    identifier_type  varchar not null,
    identifier_value varchar not null,
    identity_id      varchar not null,
    identifier_key   bigint not null
);

comment on column identity_map.identity_id is 'derived from the identity''s first-seen identifier';
comment on column identity_map.identifier_key is 'identifiers.identifier_key';

create table if not exists identities (
    identity_id      varchar not null,
    first_seen       timestamp not null,
    last_seen        timestamp not null,
    identifier_count bigint not null,
    event_count      bigint not null,
    anchor_type      varchar not null,
    anchor_value     varchar not null
);

comment on column identities.identifier_count is 'linked identifiers in identity_map';
comment on column identities.anchor_type is 'the first-seen identifier the id is derived from';
comment on column identities.anchor_value is 'the first-seen identifier the id is derived from';

create table if not exists identity_merges (
    identity_id          varchar not null,
    absorbed_identity_id varchar not null,
    day                  date not null,
    reason               varchar not null
);

comment on column identity_merges.identity_id is 'the identity that survives (or is split from)';
comment on column identity_merges.absorbed_identity_id is 'merged into it, or split off it';
comment on column identity_merges.day is 'the latest landing day of the run that made it';

-- How many distinct values of a strong type an identifier was seen with (the sharing guard's
-- measure), kept so a changed guard re-resolves only the identifiers it flips.
alter table identifiers add column if not exists strong_values bigint;

-- The UID2 form of an email or phone (Base64 of SHA-256 of the normalised value): what leaves
-- the system in place of the plain value. A hash received without its plain value is its own.
alter table identifiers add column if not exists uid2_hash varchar;
comment on column identifiers.uid2_hash is 'email and phone: Base64 of SHA-256 of identifier_value (UID2)';

-- The connected component of linked identifiers an identifier is in before limits split it:
-- the unit a limit or priority change re-resolves. Its smallest identifier_key names it.
alter table identity_map add column if not exists cluster_key bigint;

comment on column identity_map.cluster_key is 'smallest identifier_key of its component before limits';

update identity_map
set cluster_key = k.cluster_key
from (
    select identity_id, min(identifier_key) as cluster_key
    from identity_map
    group by identity_id
) as k
where identity_map.cluster_key is null and identity_map.identity_id = k.identity_id;

-- Links refused by a limit: the event joined the identity of its highest-priority identifier
-- (kept_*) and the refused identifier stayed where it was. One row per pair, with the first
-- event that tried and how many did.
create table if not exists identity_refused_links (
    identifier_type  varchar not null,
    identifier_value varchar not null,
    kept_type        varchar not null,
    kept_value       varchar not null,
    rule             varchar not null,
    first_event_id   varchar not null,
    first_day        date not null,
    events           bigint not null,
    cluster_key      bigint not null
);

comment on column identity_refused_links.identifier_type is 'the refused identifier';
comment on column identity_refused_links.kept_type is 'the event''s placing identifier';
comment on column identity_refused_links.rule is 'e.g. limit: at most 1 user_id per identity';
comment on column identity_refused_links.first_event_id is 'the first event that tried the link';
comment on column identity_refused_links.events is 'events that tried it';
comment on column identity_refused_links.cluster_key is 'the identity_map.cluster_key it was refused in';

-- Per identifier, every identifier it was seen with in one event (click ids and sightings with a
-- problem aside), and in how many events. The pairs are the graph's edges and, for the strong
-- types (user_id, email, phone), the sharing guard's measure: a run reads the affected
-- identifiers' rows here instead of their sightings in the whole history. A day read again
-- takes its old pairs' counts away and adds its new ones.
create table if not exists identifier_pairs (
    identifier_type  varchar not null,
    identifier_value varchar not null,
    other_type       varchar not null,
    other_value      varchar not null,
    events           bigint not null
);

-- Before identifier_pairs, only pairs with a strong value were kept (identifier_neighbours);
-- ensure_tables counts identifier_pairs from the sightings once.
drop table if exists identifier_neighbours;

-- Per identifier type, the two orders the stage uses, as last applied:
-- priority          which identifier places an event (the journal row's identity) and which
--                   link a limit keeps; configurable (IDENTITY_RULES), 1 wins;
-- anchor_rank       which first-seen identifier names an identity when two were first seen at
--                   once; fixed, so identity ids never depend on configuration;
-- max_per_identity  the type's limit per identity, or null.
create table if not exists identifier_rules (
    identifier_type  varchar not null,
    priority         integer not null,
    anchor_rank      integer not null,
    max_per_identity integer
);

alter table identifier_rules add column if not exists anchor_rank integer;

-- Each event placed with the identity of its highest-priority linked identifier: the one place
-- that rule is applied. The journal, metrics and segments read placements from here.
create table if not exists event_placements (
    event_id       varchar not null,
    day            date not null,
    identity_id    varchar not null,
    identifier_key bigint not null
);

comment on column event_placements.day is 'the event''s landing day';
comment on column event_placements.identifier_key is 'the placing identifier (identifiers.identifier_key)';

-- Bookkeeping of warehouses built before the change protocol (decision 0006).
drop table if exists identity_days;
drop table if exists identity_changes;
drop table if exists identity_rules_applied;
