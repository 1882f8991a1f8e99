-- The outcome of every landed line: null reason means accepted. A line is rejected for its
-- own fault, for its first bad `events` element, or as a duplicate: the same line (or the
-- same Segment messageId) earlier in this batch (by day, file, line), or already stored for a
-- day outside the batch.
create or replace temp table line_outcomes as
with element_failures as (
    select
        rid,
        min_by(element_reason, element_index) as reason,
        min_by(element_detail, element_index) as detail
    from landed_events
    where element_reason is not null
    group by rid
),

candidates as (
    select p.rid, p.day, p.source_file, p.line_number, p.line_key
    from parsed_lines as p
    left join element_failures as f using (rid)
    where p.line_reason is null and f.reason is null
),

repeats as (
    select
        rid,
        row_number() over (
            partition by line_key order by day, source_file, line_number
        ) as occurrence,
        first_value(source_file || ' line ' || line_number) over (
            partition by line_key order by day, source_file, line_number
        ) as first_seen_at
    from candidates
),

-- The stored days that may hold one of the batch's events: their keys (raw_event_keys, a
-- number per event) match. Only those days' event ids are then read, by their zone maps, so
-- a new day's check reads a number per stored event instead of every stored event id.
key_days as (
    select distinct k.day
    from raw_event_keys as k
    where k.day not in (select day from batch_days)
        and k.event_key in (select md5_number_lower(event_id) from landed_events)
),

stored_ids as (
    select r.event_id, min_by(r.source_file || ' line ' || r.line_number, r.day) as stored_at
    from raw_events as r
    where r.day in (select day from key_days)
        and r.event_id in (select event_id from landed_events)
    group by r.event_id
),

stored_elsewhere as (
    select e.rid, min(s.stored_at) as stored_at
    from landed_events as e
    inner join stored_ids as s using (event_id)
    group by e.rid
)

select
    p.rid,
    p.day,
    p.source_file,
    p.line_number,
    case
        when p.line_reason is not null then p.line_reason
        when f.reason is not null then f.reason
        when r.occurrence > 1 or s.stored_at is not null then 'duplicate'
    end as reason,
    case
        when p.line_reason is not null then p.line_detail
        when f.reason is not null then f.detail
        when s.stored_at is not null then 'same event as ' || s.stored_at
        when r.occurrence > 1 then 'same event as ' || r.first_seen_at
    end as detail
from parsed_lines as p
left join element_failures as f using (rid)
left join repeats as r using (rid)
left join stored_elsewhere as s using (rid)
