-- The changed days' sightings (new_sightings.sql) into identifier_sightings. A UID2 hash
-- (email_hash / phone_hash, or a hash where an email or phone goes) is the plain identifier it
-- is the hash of when that one is known (known_hashes.sql); otherwise it stays itself, as an
-- email or phone identifier whose value is the hash (identifiers.uid2_hash equals its value).
insert into identifier_sightings by name
select
    n.event_id,
    n.day,
    n.occurred_at,
    n.identifier_type,
    n.raw_value,
    coalesce(k.identifier_value, n.identifier_value) as identifier_value,
    case when k.identifier_value is not null then k.problem else n.problem end as problem
from new_sightings as n
left join known_hashes as k
    on n.hashed and k.identifier_type = n.identifier_type and k.uid2_hash = n.identifier_value
