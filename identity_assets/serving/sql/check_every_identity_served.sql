-- Identities of the warehouse, those changed (all in a sweep), that the snapshot cannot answer
-- for: without a profile (`snapshot_profiles`, read from it) or without an identifier to find
-- them by (`snapshot_identifiers`).
select i.identity_id,
       p.identity_id is not null as has_profile,
       m.identity_id is not null as has_identifier
from identities as i
left join snapshot_profiles as p
    on p.identity_id = i.identity_id
left join snapshot_identifiers as m
    on m.identity_id = i.identity_id
where changed_identity(i.identity_id) and (p.identity_id is null or m.identity_id is null)
order by i.identity_id
