-- The snapshot's identity_map rows from the warehouse, each with its identifier's UID2 hash.
select m.identifier_type, m.identifier_value, m.identity_id, i.uid2_hash
from identity_map as m
left join identifiers as i using (identifier_key)
order by m.identifier_type, m.identifier_value
