-- One row per event of the lines that passed the line-level checks: a whole line, or each
-- element of an `events` call's body array, which is one event of its own. Elements are
-- checked here like whole lines; a bad element later rejects its whole line, so a line is
-- always either fully accepted or rejected and lines read = accepted + rejected holds.
-- payload is set for elements only; a whole line's payload is its text, joined in by rid when
-- the accepted events are written.
create or replace temp macro event_element_paths() as [
    '$.external_id', '$.anonymous_id', '$.email', '$.phone', '$.device_id', '$.name',
    '$.timestamp', '$.email_hash', '$.phone_hash'
];

create or replace temp table landed_events as
with whole_lines as (
    select
        rid, day, source_file, line_number, 0 as element_index, line_key, source, kind,
        event_name, occurred_at_text, received_at_text, sent_at_text,
        cast(null as varchar) as payload,
        message_id, user_id,
        anonymous_id, previous_id, email, phone, device_id, platform, fbclid, gclid, email_hash,
        phone_hash,
        cast(null as varchar) as element_reason,
        cast(null as varchar) as element_detail
    from parsed_lines
    where line_reason is null and kind <> 'events'
),

elements as (
    select
        p.rid,
        p.day,
        p.source_file,
        p.line_number,
        p.line_key,
        p.received_at_text,
        unnest(json_extract(u.line, '$.body[*]')) as element,
        generate_subscripts(json_extract(u.line, '$.body[*]'), 1) as element_index
    from parsed_lines as p
    inner join landed_lines_unnumbered as u on u.rowid = p.rid
    where p.line_reason is null and p.kind = 'events'
),

element_fields as (
    select
        *,
        json_type(element) as root_type,
        json_extract_string(element, event_element_paths()) as v,
        json_type(element, event_element_paths()) as t
    from elements
),

element_checks as (
    select
        *,
        case when root_type = 'OBJECT' then [
            substr(event_element_paths()[i], 3)
            for i in [1, 2, 3, 4, 5, 6, 8, 9]
            if t[i] in ('OBJECT', 'ARRAY', 'BOOLEAN')
        ][1] end as wrong_type_field,
        coalesce(
            nullif(clean_text(v[1]), ''), nullif(clean_text(v[2]), ''),
            nullif(clean_text(v[3]), ''), nullif(clean_text(v[4]), ''),
            nullif(clean_text(v[5]), ''), nullif(clean_text(v[8]), ''),
            nullif(clean_text(v[9]), '')
        ) is not null as has_identifier
    from element_fields
),

element_events as (
    select
        rid,
        day,
        source_file,
        line_number,
        element_index,
        line_key,
        'client_api' as source,
        'events' as kind,
        v[6] as event_name,
        coalesce(v[7], received_at_text) as occurred_at_text,
        received_at_text,
        cast(null as varchar) as sent_at_text,
        element as payload,
        cast(null as varchar) as message_id,
        clean_text(v[1]) as user_id,
        clean_text(v[2]) as anonymous_id,
        cast(null as varchar) as previous_id,
        v[3] as email,
        v[4] as phone,
        clean_text(v[5]) as device_id,
        cast(null as varchar) as platform,
        cast(null as varchar) as fbclid,
        cast(null as varchar) as gclid,
        v[8] as email_hash,
        v[9] as phone_hash,
        case
            when root_type <> 'OBJECT' then 'events_not_array_of_objects'
            when wrong_type_field is not null then 'wrong_type'
            when nullif(t[7], 'NULL') is not null and try_cast(v[7] as timestamptz) is null
                then 'bad_timestamp'
            when not has_identifier then 'no_identifier'
            -- the client API: "Either an anonymous or external ID is required"
            when coalesce(nullif(clean_text(v[1]), ''), nullif(clean_text(v[2]), '')) is null
                then 'missing_anonymous_or_external_id'
        end as element_reason,
        'events element ' || element_index || ': ' || case
            when root_type <> 'OBJECT' then not_an_object(root_type)
            when wrong_type_field is not null
                then wrong_type_field || ' is an object, array or boolean'
            when nullif(t[7], 'NULL') is not null and try_cast(v[7] as timestamptz) is null
                then 'timestamp is not an ISO-8601 timestamp'
            when not has_identifier
                then 'no external, anonymous, email, phone or device identifier'
            else 'an event needs anonymous_id or external_id'
        end as element_detail
    from element_checks
),

events as (
    select * from whole_lines
    union all
    select * from element_events
),

-- Time: Segment corrects a device's clock skew by the time the message was sent and received
-- (occurred = receivedAt - (sentAt - timestamp)); we do the same when all three are given.
-- An event whose time lies before the earliest accepted time, or after the end of its landing
-- day plus the allowed clock skew (ingest_window), is rejected: one event dated 9999 would
-- otherwise move every customer's metrics.
timed as (
    select
        *,
        try_cast(occurred_at_text as timestamptz) at time zone 'UTC' as stated_at,
        try_cast(received_at_text as timestamptz) at time zone 'UTC' as received_at,
        try_cast(sent_at_text as timestamptz) at time zone 'UTC' as sent_at
    from events
),

placed as (
    select
        * exclude (stated_at, sent_at),
        coalesce(
            case
                when isfinite(sent_at) and isfinite(received_at) and isfinite(stated_at)
                    then received_at - (sent_at - stated_at)
            end,
            stated_at,
            cast(day as timestamp)
        ) as occurred_at
    from timed
),

judged as (
    select
        *,
        case
            when not isfinite(occurred_at) or occurred_at < (select earliest from ingest_window)
                then 'before'
            when occurred_at >= cast(day as timestamp) + interval 1 day
                + (select max_skew from ingest_window) then 'after'
        end as out_of_window
    from placed
)

select
    md5(line_key || '|' || element_index) as event_id,
    * exclude (out_of_window) replace (
        coalesce(element_reason, case when out_of_window is not null then 'implausible_time' end)
            as element_reason,
        case
            when element_reason is not null or out_of_window is null then element_detail
            else case when element_index > 0 then 'events element ' || element_index || ': '
                else '' end
                || 'occurred_at ' || cast(occurred_at as varchar) || case
                    when out_of_window = 'after' then ' is after the landing day ' || day
                        || ' plus ' || (select max_skew from ingest_window)
                        || ' of clock skew'
                    else ' is before the earliest accepted time '
                        || (select earliest from ingest_window)
                end
        end as element_detail
    )
from judged
