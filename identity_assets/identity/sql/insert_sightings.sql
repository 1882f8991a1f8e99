-- Every identifier of every accepted event of the changed days, normalised:
-- every value trimmed by clean_text (Unicode whitespace, control and format characters at
-- either end: the one rule identity_assets/text.py defines for SQL and Python alike);
-- email lower-cased, gmail.com dots and +suffix removed (UID2 rules); phone to
-- E.164 through the phone_numbers look-up; ids keep their case. Placeholders and values
-- that cannot be normalised keep their trimmed text and are marked with their problem.
insert into identifier_sightings by name
with events as (
    select
        event_id, day, occurred_at, user_id, anonymous_id, previous_id, email, phone,
        device_id, fbclid, gclid
    from raw_events
    where day in (select day from changed_days)
),

raw as (
    select event_id, day, occurred_at, 'user_id' as identifier_type, user_id as raw_value
    from events where user_id is not null
    union all
    select event_id, day, occurred_at, 'anonymous_id', anonymous_id
    from events where anonymous_id is not null
    union all
    select event_id, day, occurred_at, 'anonymous_id', previous_id
    from events where previous_id is not null and previous_id is distinct from anonymous_id
    union all
    select event_id, day, occurred_at, 'email', email from events where email is not null
    union all
    select event_id, day, occurred_at, 'phone', phone from events where phone is not null
    union all
    select event_id, day, occurred_at, 'device_id', device_id
    from events where device_id is not null
    union all
    select event_id, day, occurred_at, 'fbclid', fbclid from events where fbclid is not null
    union all
    select event_id, day, occurred_at, 'gclid', gclid from events where gclid is not null
),

prepared as (
    select
        *,
        clean_text(raw_value) as trimmed,
        lower(clean_text(raw_value)) as lowered,
        split_part(lower(clean_text(raw_value)), '@', 1) as local_part,
        split_part(lower(clean_text(raw_value)), '@', 2) as domain
    from raw
)

select
    r.event_id,
    r.day,
    r.occurred_at,
    r.identifier_type,
    r.raw_value,
    case
        when r.identifier_type = 'email' and r.domain = 'gmail.com'
            then replace(split_part(r.local_part, '+', 1), '.', '') || '@gmail.com'
        when r.identifier_type = 'email' then r.lowered
        when r.identifier_type = 'phone' then coalesce(p.e164, r.trimmed)
        else r.trimmed
    end as identifier_value,
    case
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
    on r.identifier_type = 'phone' and p.raw_phone = r.trimmed and p.region = $region
