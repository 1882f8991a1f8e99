-- Log every identity some of whose identifiers now belong elsewhere or no longer link, and every
-- identity of a cluster a rule change reached (a new priority can move an event between two
-- identities that keep their members): the rows later stages keep per identity must be
-- re-derived for exactly these.
insert into identity_changes
select distinct now() as changed_at, m.identity_id
from identity_map as m
inner join affected_identifiers as a using (identifier_type, identifier_value)
left join new_identity_map as n using (identifier_type, identifier_value)
where n.identity_id is distinct from m.identity_id
union
select distinct now() as changed_at, identity_id
from identity_map
where cluster_key in (select cluster_key from rule_clusters);
