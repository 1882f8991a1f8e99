-- Identities of identity_map with no identities row, or identities rows with no identifier.
select m.identity_id, 'mapped but not in identities' as problem
from (select distinct identity_id from identity_map) as m
where m.identity_id not in (select identity_id from identities)
union all
select identity_id, 'in identities but nothing maps to it'
from identities
where identity_id not in (select identity_id from identity_map)
