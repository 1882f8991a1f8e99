-- The change protocol's tables (docs/decisions/0006-one-change-protocol.md). Each is written in
-- the same transaction as the data it describes, so a run that dies loses nothing.

-- One row per version: a warehouse-wide sequence, one number per stage run that wrote data.
create table if not exists change_versions (
    version  bigint not null,      -- 1, 2, 3, ... in commit order
    producer varchar not null      -- the published table whose change it is: raw_events, ...
);

-- The days a version changed: every row of these days may differ.
create table if not exists change_days (
    version bigint not null,
    day     date not null
);

-- The identities a version changed: rows of these identities outside the changed days may
-- differ (a merge, a split, a block, a priority change).
create table if not exists change_identities (
    version     bigint not null,
    identity_id varchar not null
);

-- How far each consumer has taken in each upstream's changes: versions up to here are done.
create table if not exists stage_progress (
    consumer varchar not null,
    upstream varchar not null,
    version  bigint not null
);

-- The rules (configuration) each stage's data was last built under, as canonical JSON: a stage
-- whose rules differ from these redoes what the difference reaches.
create table if not exists stage_rules (
    stage varchar not null,
    rules varchar not null
);

-- How far each scoped asset check has verified its producer's changes, and the parameters it
-- verified them under: its next run verifies the versions after this one (decision 0016).
create table if not exists check_progress (
    check_name  varchar not null,
    producer    varchar not null,
    version     bigint not null,
    fingerprint varchar not null
);

-- The rows a version moved to another identity, or out of its table, outside the days it
-- changed: a consumer holding a copy of a row (purchases, the serving snapshot) follows it by
-- its event and day, or by the identity it left and its event.
create table if not exists change_rows (
    version              bigint not null,
    day                  date not null,
    event_id             varchar not null,
    previous_identity_id varchar not null, -- the identity the row left
    identity_id          varchar           -- where the row is now; null: it left the table
);

-- Versions up to the newest when change_rows was made logged no rows: a consumer behind it
-- takes in everything again once (changes.rows_logged).
insert into stage_rules
select 'change_rows', coalesce(max(version), 0)::varchar
from change_versions
where not exists (select 1 from stage_rules where stage = 'change_rows');
