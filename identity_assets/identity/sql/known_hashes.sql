-- The plain email or phone each UID2 hash of the changed days stands for, where one is known
-- (already stored, or in these days): the hash then is that identifier, and links as it does.
-- Read only when the changed days hold a hash.
create or replace temp table known_hashes as
with candidates as (
    select identifier_type, uid2_hash, identifier_value,
        case when block_reason in ('placeholder', 'invalid_email', 'invalid_phone')
            then block_reason end as problem
    from identifiers
    where identifier_type in ('email', 'phone') and uid2_hash is not null
        and uid2_hash <> identifier_value
        and uid2_hash in (select identifier_value from new_sightings where hashed)
    union all
    select identifier_type, to_base64(unhex(sha256(identifier_value))), identifier_value, problem
    from new_sightings
    where not hashed and identifier_type in ('email', 'phone') and problem is null
    union all
    -- read again for a late plain value (late_hash_days): the changed days' sightings have it
    select identifier_type, to_base64(unhex(sha256(identifier_value))), identifier_value, problem
    from identifier_sightings
    where day in (select day from changed_days) and day not in (select day from sighting_days)
        and identifier_type in ('email', 'phone') and problem is null
        and not regexp_full_match(identifier_value, '[A-Za-z0-9+/]{43}=')
),

known as (
    select identifier_type, uid2_hash, min(identifier_value) as identifier_value,
        min(problem) as problem
    from candidates
    group by identifier_type, uid2_hash
)

select * from known
