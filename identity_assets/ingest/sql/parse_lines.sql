-- One row per landed line: its shape, the top-level fields every later step needs, and the
-- line-level reason to reject it (null when the line is fine so far).
-- All fields come from two calls over one list of paths: extracting many paths in one call is
-- about twice as fast as one call per path.
create or replace temp table parsed_lines as
with valid as (
    select
        day,
        source_file,
        line_number,
        line,
        case when json_valid(line) then line end as j
    from landed_lines
),

extracted as (
    select
        *,
        json_type(j) as root_type,
        json_extract_string(j, [
            '$.type', '$.endpoint', '$.messageId', '$.userId', '$.anonymousId',
            '$.previousId', '$.timestamp', '$.receivedAt', '$.event', '$.name',
            '$.traits.email', '$.traits.phone', '$.context.traits.email',
            '$.context.traits.phone', '$.context.device.id', '$.received_at', '$.body',
            '$.body.external_id', '$.body.anonymous_id', '$.body.email', '$.body.phone',
            '$.body.device_id', '$.body.platform', '$.body.valuation_properties.action',
            '$.body.fbclid', '$.body.gaclid', '$.body.gclid'
        ]) as v,
        json_type(j, [
            '$.type', '$.endpoint', '$.messageId', '$.userId', '$.anonymousId',
            '$.previousId', '$.timestamp', '$.receivedAt', '$.event', '$.name',
            '$.traits.email', '$.traits.phone', '$.context.traits.email',
            '$.context.traits.phone', '$.context.device.id', '$.received_at', '$.body',
            '$.body.external_id', '$.body.anonymous_id', '$.body.email', '$.body.phone',
            '$.body.device_id', '$.body.platform', '$.body.valuation_properties.action',
            '$.body.fbclid', '$.body.gaclid', '$.body.gclid'
        ]) as t
    from valid
),

-- A JSON null counts as absent everywhere below.
fields as (
    select
        day, source_file, line_number, line, j, root_type,
        case when t[1] = 'VARCHAR' then v[1] end as type_value, nullif(t[1], 'NULL') as type_t,
        case when t[2] = 'VARCHAR' then v[2] end as endpoint_value, nullif(t[2], 'NULL') as endpoint_t,
        v[3] as message_id, nullif(t[3], 'NULL') as message_id_t,
        v[4] as user_id, nullif(t[4], 'NULL') as user_id_t,
        v[5] as anonymous_id, nullif(t[5], 'NULL') as anonymous_id_t,
        v[6] as previous_id, nullif(t[6], 'NULL') as previous_id_t,
        v[7] as timestamp_text, nullif(t[7], 'NULL') as timestamp_t,
        v[8] as received_at_segment, nullif(t[8], 'NULL') as received_at_segment_t,
        v[9] as event_value, nullif(t[9], 'NULL') as event_t,
        v[10] as name_value, nullif(t[10], 'NULL') as name_t,
        v[11] as traits_email, nullif(t[11], 'NULL') as traits_email_t,
        v[12] as traits_phone, nullif(t[12], 'NULL') as traits_phone_t,
        v[13] as context_email, nullif(t[13], 'NULL') as context_email_t,
        v[14] as context_phone, nullif(t[14], 'NULL') as context_phone_t,
        v[15] as context_device_id, nullif(t[15], 'NULL') as context_device_id_t,
        v[16] as received_at_api, nullif(t[16], 'NULL') as received_at_api_t,
        nullif(t[17], 'NULL') as body_t,
        v[18] as body_external_id, nullif(t[18], 'NULL') as body_external_id_t,
        v[19] as body_anonymous_id, nullif(t[19], 'NULL') as body_anonymous_id_t,
        v[20] as body_email, nullif(t[20], 'NULL') as body_email_t,
        v[21] as body_phone, nullif(t[21], 'NULL') as body_phone_t,
        v[22] as body_device_id, nullif(t[22], 'NULL') as body_device_id_t,
        v[23] as body_platform, nullif(t[23], 'NULL') as body_platform_t,
        v[24] as body_action, nullif(t[24], 'NULL') as body_action_t,
        v[25] as body_fbclid, nullif(t[25], 'NULL') as body_fbclid_t,
        coalesce(v[27], v[26]) as body_gclid,
        coalesce(nullif(t[27], 'NULL'), nullif(t[26], 'NULL')) as body_gclid_t
    from extracted
),

shaped as (
    select
        *,
        case
            when type_t is not null then 'segment'
            when endpoint_value = 'identifier' then 'identifier_api'
            when endpoint_t is not null then 'client_api'
        end as source,
        coalesce(type_value, endpoint_value) as kind
    from fields
),

-- The first field whose JSON type is wrong. Ids may be strings or integers (many SDKs send
-- numeric user ids); emails, names and click ids must be strings; phones strings or integers.
typed as (
    select
        *,
        case
            when source = 'segment' then
                case
                    when message_id_t not in ('VARCHAR', 'BIGINT', 'UBIGINT') then 'messageId'
                    when user_id_t not in ('VARCHAR', 'BIGINT', 'UBIGINT') then 'userId'
                    when anonymous_id_t not in ('VARCHAR', 'BIGINT', 'UBIGINT') then 'anonymousId'
                    when previous_id_t not in ('VARCHAR', 'BIGINT', 'UBIGINT') then 'previousId'
                    when event_t <> 'VARCHAR' then 'event'
                    when name_t <> 'VARCHAR' then 'name'
                    when traits_email_t <> 'VARCHAR' then 'traits.email'
                    when traits_phone_t not in ('VARCHAR', 'BIGINT', 'UBIGINT') then 'traits.phone'
                    when context_email_t <> 'VARCHAR' then 'context.traits.email'
                    when context_phone_t not in ('VARCHAR', 'BIGINT', 'UBIGINT')
                        then 'context.traits.phone'
                    when context_device_id_t not in ('VARCHAR', 'BIGINT', 'UBIGINT')
                        then 'context.device.id'
                end
            when source in ('client_api', 'identifier_api') then
                case
                    when body_external_id_t not in ('VARCHAR', 'BIGINT', 'UBIGINT')
                        then 'body.external_id'
                    when body_anonymous_id_t not in ('VARCHAR', 'BIGINT', 'UBIGINT')
                        then 'body.anonymous_id'
                    when body_email_t <> 'VARCHAR' then 'body.email'
                    when body_phone_t not in ('VARCHAR', 'BIGINT', 'UBIGINT') then 'body.phone'
                    when body_device_id_t not in ('VARCHAR', 'BIGINT', 'UBIGINT')
                        then 'body.device_id'
                    when body_platform_t <> 'VARCHAR' then 'body.platform'
                    when body_action_t <> 'VARCHAR' then 'body.valuation_properties.action'
                    when body_fbclid_t <> 'VARCHAR' then 'body.fbclid'
                    when body_gclid_t <> 'VARCHAR' then 'body.gaclid'
                end
        end as wrong_type_field,
        case
            when source = 'segment' and timestamp_t is not null
                and try_cast(timestamp_text as timestamptz) is null then 'timestamp'
            when source = 'segment' and received_at_segment_t is not null
                and try_cast(received_at_segment as timestamptz) is null then 'receivedAt'
            when source in ('client_api', 'identifier_api') and received_at_api_t is not null
                and try_cast(received_at_api as timestamptz) is null then 'received_at'
        end as bad_timestamp_field,
        coalesce(
            nullif(trim(user_id), ''), nullif(trim(anonymous_id), ''),
            nullif(trim(previous_id), ''), nullif(trim(traits_email), ''),
            nullif(trim(traits_phone), ''), nullif(trim(context_email), ''),
            nullif(trim(context_phone), ''), nullif(trim(context_device_id), ''),
            nullif(trim(body_external_id), ''), nullif(trim(body_anonymous_id), ''),
            nullif(trim(body_email), ''), nullif(trim(body_phone), ''),
            nullif(trim(body_device_id), '')
        ) is not null as has_identifier
    from shaped
),

judged as (
    select
        *,
        case
            when line is null or trim(line) = '' then 'blank_line'
            when j is null then 'invalid_json'
            when root_type <> 'OBJECT' then 'not_an_object'
            when source is null then 'unknown_shape'
            when source = 'segment'
                and (type_value is null
                    or type_value not in ('identify', 'track', 'page', 'screen', 'alias', 'group'))
                then 'unknown_type'
            when source <> 'segment'
                and (endpoint_value is null
                    or endpoint_value not in ('alias', 'identify', 'devices', 'events', 'identifier'))
                then 'unknown_endpoint'
            when kind = 'events'
                and (body_t is distinct from 'ARRAY' or json_array_length(j, '$.body') = 0)
                then 'events_not_array_of_objects'
            when source <> 'segment' and kind <> 'events' and body_t is distinct from 'OBJECT'
                then 'wrong_type'
            when wrong_type_field is not null then 'wrong_type'
            when bad_timestamp_field is not null then 'bad_timestamp'
            when kind = 'identifier' and nullif(trim(body_platform), '') is null
                then 'missing_platform'
            when kind <> 'events' and not has_identifier then 'no_identifier'
        end as line_reason
    from typed
)

select
    day,
    source_file,
    line_number,
    line,
    j,
    source,
    kind,
    line_reason,
    case line_reason
        when 'blank_line' then 'the line is empty'
        when 'invalid_json' then 'the line is not valid JSON'
        when 'not_an_object' then 'a JSON ' || case root_type
                when 'ARRAY' then 'array' when 'VARCHAR' then 'string'
                when 'BOOLEAN' then 'boolean' when 'NULL' then 'null' else 'number'
            end || ', not an object'
        when 'unknown_shape'
            then 'neither "type" (a Segment message) nor "endpoint" (an API call)'
        when 'unknown_type'
            then 'Segment type ' || coalesce(json_extract(j, '$.type')::varchar, 'null')
                || ' is not identify, track, page, screen, alias or group'
        when 'unknown_endpoint'
            then 'endpoint ' || coalesce(json_extract(j, '$.endpoint')::varchar, 'null')
                || ' is not alias, identify, devices, events or identifier'
        when 'events_not_array_of_objects'
            then case
                when body_t = 'ARRAY' then 'body of an events call is an empty array'
                else 'body of an events call is not an array'
            end
        when 'wrong_type'
            then coalesce(wrong_type_field, 'body') || ' has the wrong JSON type'
        when 'bad_timestamp'
            then bad_timestamp_field || ' is not an ISO-8601 timestamp'
        when 'missing_platform' then 'an identifier call needs body.platform'
        when 'no_identifier' then 'no user, anonymous, email, phone or device identifier'
    end as line_detail,
    case
        when source = 'segment' and message_id is not null and trim(message_id) <> ''
            then 'segment|' || message_id
        else md5(line)
    end as line_key,
    case
        when source = 'segment' then coalesce(timestamp_text, received_at_segment)
        else received_at_api
    end as occurred_at_text,
    case when source = 'segment' then received_at_segment else received_at_api end
        as received_at_text,
    case
        when kind = 'track' then event_value
        when kind in ('page', 'screen') then name_value
        when kind = 'identifier' then body_action
    end as event_name,
    message_id,
    trim(coalesce(user_id, body_external_id)) as user_id,
    trim(coalesce(anonymous_id, body_anonymous_id)) as anonymous_id,
    trim(previous_id) as previous_id,
    coalesce(traits_email, context_email, body_email) as email,
    coalesce(traits_phone, context_phone, body_phone) as phone,
    trim(coalesce(context_device_id, body_device_id)) as device_id,
    body_platform as platform,
    body_fbclid as fbclid,
    body_gclid as gclid
from judged
