-- Merges and splits between the old and the new identities of the affected identifiers.
-- merge:   an old identity's identifiers now belong to another identity that existed before
--          (the cause: events of the run, or the rule change);
-- split:   part of an old identity that still exists now forms a new identity (the cause: an
--          identifier became blocked, a limit refused a link, or its links changed);
-- re-anchored: an identity's anchor changed (earlier data arrived) and so did its id.
create or replace temp table run_merges as
with old as (
    select m.identifier_type, m.identifier_value, m.identity_id
    from identity_map as m
    inner join affected_identifiers as a using (identifier_type, identifier_value)
),

old_ids as (select distinct identity_id from old),

new_ids as (select distinct identity_id from new_identity_map),

pairs as (
    select distinct o.identity_id as old_id, n.identity_id as new_id
    from old as o
    inner join new_identity_map as n using (identifier_type, identifier_value)
    where o.identity_id <> n.identity_id
),

newly_blocked as (
    select
        o.identity_id,
        min(o.identifier_type || ' ' || o.identifier_value || ' (' || i.block_reason || ')')
            as first_blocked
    from old as o
    inner join identifiers as i using (identifier_type, identifier_value)
    where i.status = 'blocked'
    group by o.identity_id
),

limited as (
    select o.identity_id, min(r.rule) as rule
    from old as o
    inner join identifiers as i using (identifier_type, identifier_value)
    inner join run_refusals as r on i.identifier_key in (r.refused_key, r.kept_key)
    group by o.identity_id
)

select
    case when p.old_id in (select identity_id from new_ids) then p.old_id else p.new_id end
        as identity_id,
    case when p.old_id in (select identity_id from new_ids) then p.new_id else p.old_id end
        as absorbed_identity_id,
    coalesce((select max(day) from changed_days), current_date) as day,
    case
        when p.new_id in (select identity_id from old_ids)
            and p.old_id not in (select identity_id from new_ids)
            then 'merge: ' || $cause
        when p.old_id in (select identity_id from new_ids)
            then 'split: ' || coalesce('blocked ' || b.first_blocked, l.rule, 'its links changed')
        else 're-anchored: an earlier identifier joined it'
    end as reason
from pairs as p
left join newly_blocked as b on b.identity_id = p.old_id
left join limited as l on l.identity_id = p.old_id
