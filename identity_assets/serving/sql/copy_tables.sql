-- What look-ups read, copied from the warehouse into the snapshot being written (attached as
-- `snapshot`), each table with the warehouse's columns so journal/lookup.py reads it unchanged.
-- Rows are stored in look-up order: one identity's rows sit together, so the index finds
-- them in a few blocks.
create table snapshot.identity_map as
select * from identity_map
order by identifier_type, identifier_value;

-- identifiers: a UID2 hash names its email or phone through it
create table snapshot.identifiers as
select * from identifiers
order by identifier_key;

create table snapshot.customer_profiles as
select * from customer_profiles
order by identity_id;

create table snapshot.identity_journal as
select * from identity_journal
order by identity_id, occurred_at desc, event_id desc;

create index identity_map_by_identifier
on snapshot.identity_map (identifier_type, identifier_value);

create index customer_profiles_by_identity on snapshot.customer_profiles (identity_id);

create index identity_journal_by_identity on snapshot.identity_journal (identity_id);

create table snapshot.snapshot_info (
    version      bigint not null,    -- the change version of the warehouse it was copied from
    phone_region varchar not null,   -- the region phones were normalised with
    published_at timestamp not null
);
