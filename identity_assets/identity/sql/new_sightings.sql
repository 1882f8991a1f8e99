-- Every identifier of every accepted event of the changed days, normalised:
-- every value trimmed by clean_text (Unicode whitespace, control and format characters at
-- either end: the one rule identity_assets/text.py defines for SQL and Python alike);
-- email lower-cased, gmail.com dots and +suffix removed (UID2 rules); phone to
-- E.164 through the phone_numbers look-up; ids keep their case. Placeholders and values
-- that cannot be normalised keep their trimmed text and are marked with their problem.
-- `hashed` marks a UID2 hash (known_hashes.sql, insert_sightings.sql). A view: the sightings
-- stream into the table once, and only a run with hashes reads them a second time.
-- Days: sighting_batch, a batch of sighting_days (the changed days, then days whose hashes
-- these days resolved), or all of them for known_hashes.sql.
create or replace temp view new_sightings as
with events as (
    select
        event_id, day, occurred_at, source, user_id, anonymous_id, previous_id, email, phone,
        device_id, fbclid, gclid, email_hash, phone_hash
    from raw_events
    where day in (select day from sighting_batch)
),

raw as (
    select
        event_id, day, occurred_at, 'user_id' as identifier_type, user_id as raw_value,
        false as hashed
    from events where user_id is not null
    union all
    -- an email sent as a Segment userId is also the person's email (Customer.io's rule)
    -- when the event carries no other; one sighting per identifier and event, always
    select event_id, day, occurred_at, 'email', user_id, false
    from events
    where source = 'segment' and user_id like '_%@_%._%' and email is null and email_hash is null
    union all
    select event_id, day, occurred_at, 'anonymous_id', anonymous_id, false
    from events where anonymous_id is not null
    union all
    select event_id, day, occurred_at, 'anonymous_id', previous_id, false
    from events where previous_id is not null and previous_id is distinct from anonymous_id
    union all
    -- a UID2 hash sent where the plain value goes is a hash, and is never lower-cased
    select
        event_id, day, occurred_at, 'email', email,
        regexp_full_match(clean_text(email), '[A-Za-z0-9+/]{43}=')
    from events where email is not null
    union all
    select
        event_id, day, occurred_at, 'phone', phone,
        regexp_full_match(clean_text(phone), '[A-Za-z0-9+/]{43}=')
    from events where phone is not null
    union all
    -- a hash sent beside its plain value adds nothing: the plain value is read
    select event_id, day, occurred_at, 'email', email_hash, true
    from events where email_hash is not null and email is null
    union all
    select event_id, day, occurred_at, 'phone', phone_hash, true
    from events where phone_hash is not null and phone is null
    union all
    select event_id, day, occurred_at, 'device_id', device_id, false
    from events where device_id is not null
    union all
    select event_id, day, occurred_at, 'fbclid', fbclid, false
    from events where fbclid is not null
    union all
    select event_id, day, occurred_at, 'gclid', gclid, false
    from events where gclid is not null
),

prepared as (
    select
        *,
        clean_text(raw_value) as trimmed,
        lower(clean_text(raw_value)) as lowered,
        split_part(lower(clean_text(raw_value)), '@', 1) as local_part,
        split_part(lower(clean_text(raw_value)), '@', 2) as domain
    from raw
),

normalised as (
    select
        r.event_id,
        r.day,
        r.occurred_at,
        r.identifier_type,
        r.raw_value,
        r.hashed,
        case
            when r.hashed then r.trimmed
            when r.identifier_type = 'email' and r.domain = 'gmail.com'
                then replace(split_part(r.local_part, '+', 1), '.', '') || '@gmail.com'
            when r.identifier_type = 'email' then r.lowered
            when r.identifier_type = 'phone' then coalesce(p.e164, r.trimmed)
            else r.trimmed
        end as identifier_value,
        case
            when r.hashed and not regexp_full_match(r.trimmed, '[A-Za-z0-9+/]{43}=')
                then 'invalid_hash'
            when r.hashed then null
            -- empty, all zeros and dashes (an all-zero UUID), or a listed placeholder
            when trim(replace(replace(r.lowered, '0', ''), '-', '')) = ''
                or r.lowered in (select value from placeholder_values) then 'placeholder'
            -- one @, something before it, a dot after it, no spaces
            when r.identifier_type = 'email'
                and not (
                    r.lowered like '_%@_%._%'
                    and length(r.lowered) - length(replace(r.lowered, '@', '')) = 1
                    and position(' ' in r.lowered) = 0
                ) then 'invalid_email'
            when r.identifier_type = 'phone' and p.e164 is null then 'invalid_phone'
        end as problem
    from prepared as r
    left join phone_numbers as p
        on r.identifier_type = 'phone' and not r.hashed and p.raw_phone = r.trimmed
        and p.region = getvariable('phone_region')
)

select * from normalised
