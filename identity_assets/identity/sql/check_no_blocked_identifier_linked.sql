-- Blocked (or unknown) identifiers that appear in identity_map under a changed identity (any, in
-- a sweep). Zero rows means none links.
select m.identifier_type, m.identifier_value, m.identity_id, i.status, i.block_reason
from identity_map as m
left join identifiers as i using (identifier_type, identifier_value)
where changed_identity(m.identity_id) and i.status is distinct from 'linked'
order by m.identifier_type, m.identifier_value
