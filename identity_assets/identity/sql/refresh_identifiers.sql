-- New statistics and status of the touched identifiers. Those in `recounted` (their sightings on
-- a day read again were replaced, or a rule reached them) are counted from all their sightings;
-- the others only gained the changed days' sightings, which are added to their stored counts,
-- so a new day reads none of their history. Their neighbour pairs come from run_neighbours.sql.
-- An identifier is blocked when it is a placeholder, cannot be normalised, is a click id (those
-- are recorded but never link), or was seen in the same events as more than $max_linked
-- distinct values of one strong type (user_id, email, phone): a kiosk device, a shared inbox;
-- or a user blocked it by hand (manual_blocks), which wins over every other reason.
-- The counted identifiers are staged first: their stored rows (`stored`) are then found by a
-- join built on them, where a join of `identifiers` itself, planned on an estimate of the
-- counts, was built on every identifier (2.1M at 10M events): 0.40-0.47 s -> 0.29 s a day.
create or replace temp table counted_identifiers as
select
    identifier_type,
    identifier_value,
    bool_or(recount) as recount,
    min(occurred_at) as first_seen,
    max(occurred_at) as last_seen,
    -- an identifier is seen at most once per event (one column per type, and a
    -- previous_id equal to the anonymous_id is not a second sighting): no distinct needed
    count(*) as event_count,
    -- a problem follows from the value and the rules alone, so the day's sightings say it
    max(problem) as problem
from (
    select *, true as recount
    from identifier_sightings
    semi join recounted using (identifier_type, identifier_value)
    union all
    select *, false
    from identifier_sightings
    anti join recounted using (identifier_type, identifier_value)
    where day in (select day from changed_days)
)
group by identifier_type, identifier_value;

create or replace temp table refreshed_identifiers as
with stored as (
    select i.*
    from identifiers as i
    semi join counted_identifiers using (identifier_type, identifier_value)
),

stats as (
    select
        c.identifier_type,
        c.identifier_value,
        least(c.first_seen, i.first_seen) as first_seen,
        greatest(c.last_seen, i.last_seen) as last_seen,
        c.event_count + coalesce(i.event_count, 0) as event_count,
        c.problem
    from counted_identifiers as c
    left join stored as i
        on not c.recount
        and i.identifier_type = c.identifier_type
        and i.identifier_value = c.identifier_value
),

neighbours as (
    select identifier_type, identifier_value, other_type, count(*) as values_seen
    from run_neighbours
    where other_type in ('user_id', 'email', 'phone')
    group by identifier_type, identifier_value, other_type
),

widest as (
    select
        identifier_type,
        identifier_value,
        max(values_seen) as values_seen,
        arg_max(other_type, (values_seen, other_type)) as other_type
    from neighbours
    group by identifier_type, identifier_value
),

keyed as (
    select
        s.*,
        w.values_seen,
        w.other_type,
        i.identifier_key as old_key,
        b.reason as manual_reason
    from stats as s
    left join widest as w using (identifier_type, identifier_value)
    left join stored as i using (identifier_type, identifier_value)
    left join manual_blocks as b using (identifier_type, identifier_value)
)

select
    coalesce(
        old_key,
        (select coalesce(max(identifier_key), 0) from identifiers)
        + row_number() over (order by old_key nulls first, identifier_type, identifier_value)
    ) as identifier_key,
    identifier_type,
    identifier_value,
    first_seen,
    last_seen,
    event_count,
    case
        when manual_reason is not null or problem is not null
            or identifier_type in ('fbclid', 'gclid') or values_seen > $max_linked then 'blocked'
        else 'linked'
    end as status,
    case
        when manual_reason is not null then 'manual: ' || manual_reason
        when problem is not null then problem
        when identifier_type in ('fbclid', 'gclid') then 'click_id'
        when values_seen > $max_linked
            then 'shared: seen with ' || values_seen || ' ' || other_type || ' values'
    end as block_reason,
    values_seen as strong_values,
    case
        when identifier_type not in ('email', 'phone') or problem is not null then null
        when regexp_full_match(identifier_value, '[A-Za-z0-9+/]{43}=') then identifier_value
        else to_base64(unhex(sha256(identifier_value)))
    end as uid2_hash
from keyed
