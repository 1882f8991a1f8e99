-- The snapshot's tables (SQLite), laid out for point reads: what journal/lookup.py asks of
-- them, and what a new version replaces rows by. Rows of one identity sit together in the
-- journal's index, so a look-up is a handful of B-tree probes.

-- The identity map in two parts, as the journal's index by identity (decisions 0036, 0039): the
-- rows folded and those versions wrote since. A day's new identifiers then fill the small part's
-- pages instead of landing on nearly every page of the large one; look-ups read both through the
-- view `identity_map` (SQLite pushes their conditions into each part), and an identifier is in
-- one part only: a version removes its old row before it writes the new one.
create table identity_map_folded (
    identifier_type  text not null,
    identifier_value text not null,   -- normalised, as in the warehouse
    identity_id      text not null,
    uid2_hash        text,            -- identifiers.uid2_hash: a UID2 hash finds it too
    primary key (identifier_type, identifier_value)
) without rowid;

create table identity_map_recent (
    identifier_type  text not null,
    identifier_value text not null,
    identity_id      text not null,
    uid2_hash        text,
    primary key (identifier_type, identifier_value)
) without rowid;

create view identity_map as
select * from identity_map_folded
union all
select * from identity_map_recent;

create table customer_profiles (
    identity_id text primary key,
    email       text,
    phone       text,
    name        text,
    first_name  text,
    last_name   text,
    created_at  text,
    traits      text
);

create table identity_journal (
    identity_id text not null,
    occurred_us integer not null,     -- occurred_at as microseconds since the epoch (UTC)
    event_id    text not null,
    source      text not null,
    kind        text not null,
    event_name  text,
    payload     text not null,
    created_at  text not null,        -- occurred_at as the journal entry shows it
    day         text not null,        -- the landing day: a new version replaces whole days
    recent      integer not null default 0  -- 1: written by a version since the last fold
);

create table snapshot_info (
    version      integer not null,    -- the change version of the warehouse it holds
    phone_region text not null,       -- the region phones were normalised with
    published_at text not null
);
