-- The identities whose journal rows, profile or identifiers may differ from the published
-- snapshot (the change logs staged by snapshot.py): those the journal logged (every identity
-- whose rows or profile it rewrote), those the identity stage logged (identifiers gained or
-- lost by a merge, a split, a block) and those placed on the days it logged (identifiers
-- linked through those days' events). `live`: the warehouse still has the identity.
create or replace temp table serving_changed as
select
    c.identity_id,
    exists (select 1 from identities as i where i.identity_id = c.identity_id) as live
from (
    select identity_id from serving_journal_identities
    union
    select identity_id from serving_placed_identities
    union
    select p.identity_id
    from event_placements as p
    where p.day in (select day from serving_placed_days) and p.identity_id is not null
) as c
