-- Changed identities (all in a sweep) in identity_map with no identities row, or with an
-- identities row and no identifier.
select m.identity_id, 'mapped but not in identities' as problem
from (select distinct identity_id from identity_map where changed_identity(identity_id)) as m
anti join identities as i using (identity_id)
union all
select i.identity_id, 'in identities but nothing maps to it'
from identities as i
anti join identity_map as m using (identity_id)
where changed_identity(i.identity_id)
