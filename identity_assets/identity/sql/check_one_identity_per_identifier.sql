-- Identifiers of the changed identities (all in a sweep) mapped more than once. Zero rows means
-- one identity_map row per identifier.
select identifier_type, identifier_value, count(*) as rows, min(identity_id) as one_identity
from identity_map
semi join (
    select identifier_type, identifier_value
    from identity_map
    where changed_identity(identity_id)
) using (identifier_type, identifier_value)
group by identifier_type, identifier_value
having count(*) > 1
order by rows desc
