-- The snapshot's identity_map rows from the warehouse (`serving_identity_map`: all of them, or
-- those a new version copies again), each with its identifier's UID2 hash.
select m.identifier_type, m.identifier_value, m.identity_id, i.uid2_hash
from serving_identity_map as m
left join identifiers as i using (identifier_key)
order by m.identifier_type, m.identifier_value
