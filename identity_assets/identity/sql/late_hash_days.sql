-- Days read before whose hashes the changed days now resolve: a hash stored unresolved (its
-- uid2_hash is itself) whose plain email or phone these days carry. Those days are read again
-- so the hash becomes that identifier, as a first build over all days would have it.
create or replace temp table late_hash_days as
with plain_hashes as (
    select distinct identifier_type, to_base64(unhex(sha256(identifier_value))) as uid2_hash
    from identifier_sightings
    where day in (select day from changed_days)
        and identifier_type in ('email', 'phone')
        and problem is null
        and not regexp_full_match(identifier_value, '[A-Za-z0-9+/]{43}=')
),

unresolved as (
    select i.identifier_type, i.identifier_value
    from identifiers as i
    inner join plain_hashes as h
        on h.identifier_type = i.identifier_type and h.uid2_hash = i.identifier_value
    where i.identifier_type in ('email', 'phone') and i.uid2_hash = i.identifier_value
)

select distinct s.day
from identifier_sightings as s
inner join unresolved as u using (identifier_type, identifier_value)
where s.day not in (select day from changed_days)
