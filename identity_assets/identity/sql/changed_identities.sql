-- The identities whose rows outside the changed days later stages must re-derive: those whose
-- events were placed elsewhere, and those that lost or gained an identifier other than through
-- the changed days' events (a merge, a split, a block, an unblock), before and after.
create or replace temp table changed_identities as
select identity_id
from placement_changes
where identity_id is not null
union
select old_id
from moved_identifiers
where old_id is not null and new_id is distinct from old_id
union
select m.new_id
from moved_identifiers as m
left join newly_linked as l using (identifier_type, identifier_value)
where m.new_id is not null and (m.old_id is not null or l.identifier_type is not null);
