-- Links a limit refused that involve one identity: one of its identifiers was kept out of
-- another identity, or an identifier was kept out of it.
with members as (
    select identifier_type, identifier_value
    from identity_map
    where identity_id = $identity_id
)

select r.* exclude (cluster_key)
from identity_refused_links as r
where exists (
    select 1 from members as m
    where m.identifier_type = r.identifier_type and m.identifier_value = r.identifier_value
)
or exists (
    select 1 from members as m
    where m.identifier_type = r.kept_type and m.identifier_value = r.kept_value
)
order by r.first_day, r.identifier_type, r.identifier_value
