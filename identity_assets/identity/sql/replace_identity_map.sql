-- Swap the affected identifiers' map rows for the recomputed ones.
delete from identity_map
using affected_identifiers as a
where identity_map.identifier_type = a.identifier_type
    and identity_map.identifier_value = a.identifier_value;

insert into identity_map by name
select identifier_type, identifier_value, identity_id, identifier_key, cluster_key
from new_identity_map;
