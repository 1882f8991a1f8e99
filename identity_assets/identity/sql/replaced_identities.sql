-- Before the map is swapped: the identities the affected identifiers belonged to and belong to
-- now (their summary rows are replaced), and the identifiers whose identity changed or that
-- stopped or started linking (events carrying them may be placed anew).
create or replace temp table replaced_identities as
select m.identity_id
from identity_map as m
inner join affected_identifiers as a using (identifier_type, identifier_value)
union
select identity_id
from new_identity_map;

create or replace temp table moved_identifiers as
select a.identifier_type, a.identifier_value, m.identity_id as old_id, n.identity_id as new_id
from affected_identifiers as a
left join identity_map as m using (identifier_type, identifier_value)
left join new_identity_map as n using (identifier_type, identifier_value)
where m.identity_id is distinct from n.identity_id;
