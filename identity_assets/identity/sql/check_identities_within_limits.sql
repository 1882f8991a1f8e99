-- Changed identities (all in a sweep) holding more values of a type than the type's limit
-- (identifier_rules).
select
    m.identity_id,
    m.identifier_type,
    count(*) as values_held,
    any_value(r.max_per_identity) as max_per_identity
from identity_map as m
inner join identifier_rules as r using (identifier_type)
where r.max_per_identity is not null and changed_identity(m.identity_id)
group by m.identity_id, m.identifier_type
having count(*) > any_value(r.max_per_identity)
order by values_held desc, m.identity_id
