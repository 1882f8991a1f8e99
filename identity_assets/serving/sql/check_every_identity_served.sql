-- Identities of the warehouse that the snapshot (attached as `snapshot`) cannot answer for:
-- without a profile, or without an identifier to find them by.
select i.identity_id,
       p.identity_id is not null as has_profile,
       m.identity_id is not null as has_identifier
from identities as i
left join (select distinct identity_id from snapshot.customer_profiles) as p
    on p.identity_id = i.identity_id
left join (select distinct identity_id from snapshot.identity_map) as m
    on m.identity_id = i.identity_id
where p.identity_id is null or m.identity_id is null
order by i.identity_id
