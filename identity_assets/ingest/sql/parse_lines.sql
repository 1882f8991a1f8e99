-- One row per landed line: where it is (rid points back at its text in
-- landed_lines_unnumbered), its shape, the top-level fields every later step needs, and the
-- line-level reason to reject it (null when the line is fine so far). The text itself is not
-- copied: it is large, and later steps fetch it by rid only where they need it.
--
-- Speed: each line is parsed once, by one json_extract_string over a list of paths (one call
-- over many paths is about twice as fast as one call per path). Objects, arrays and booleans
-- come back as their JSON text, so only lines where a field looks like one ("suspects") are
-- parsed a second time, by json_type, to tell a wrong type from a string that merely looks so.
create or replace temp macro landed_line_paths() as [
    '$.type', '$.endpoint', '$.messageId', '$.userId', '$.anonymousId',
    '$.previousId', '$.timestamp', '$.receivedAt', '$.event', '$.name',
    '$.traits.email', '$.traits.phone', '$.context.traits.email',
    '$.context.traits.phone', '$.context.device.id', '$.received_at',
    '$.body.external_id', '$.body.anonymous_id', '$.body.email', '$.body.phone',
    '$.body.device_id', '$.body.platform', '$.body.valuation_properties.action',
    '$.body.fbclid', '$.body.gaclid', '$.body.gclid', '$.body.email_hash',
    '$.body.phone_hash', '$.traits.email_hash', '$.traits.phone_hash',
    '$.context.traits.email_hash', '$.context.traits.phone_hash', '$.sentAt'
];

-- The detail of a line or an events element that is JSON but not an object, from its type;
-- explode_events.sql, run next, uses it too.
create or replace temp macro not_an_object(root_type) as 'a JSON ' || case root_type
    when 'ARRAY' then 'array' when 'VARCHAR' then 'string'
    when 'BOOLEAN' then 'boolean' when 'NULL' then 'null' else 'number'
end || ', not an object';

create or replace temp table parsed_lines as
with valid as (
    select
        n.rid,
        n.day,
        n.source_file,
        n.line_number,
        u.line,
        case when json_valid(u.line) then u.line end as j
    from landed_lines as n
    inner join landed_lines_unnumbered as u on u.rowid = n.rid
),

extracted as (
    select
        *,
        json_extract_string(j, landed_line_paths()) as v
    from valid
),

suspects as (
    select
        *,
        -- A valid JSON text's first character says what it is, without parsing it again.
        case left(ltrim(j), 1)
            when '{' then 'OBJECT' when '[' then 'ARRAY' when '"' then 'VARCHAR'
            when 't' then 'BOOLEAN' when 'f' then 'BOOLEAN' when 'n' then 'NULL'
            else 'NUMBER'
        end as root_type,
        regexp_matches(
            chr(1) || array_to_string(v, chr(1)) || chr(1),
            '\x01([\[{]|true\x01|false\x01)'
        ) as has_suspect
    from extracted
),

fields as (
    select
        rid, day, source_file, line_number, line, j, root_type,
        v[1] as type_value,
        v[2] as endpoint_value,
        v[3] as message_id,
        v[4] as user_id,
        v[5] as anonymous_id,
        v[6] as previous_id,
        v[7] as timestamp_text,
        v[8] as received_at_segment,
        v[9] as event_value,
        v[10] as name_value,
        v[13] as context_email,
        v[14] as context_phone,
        v[15] as context_device_id,
        v[16] as received_at_api,
        v[17] as body_external_id,
        v[18] as body_anonymous_id,
        v[19] as body_email,
        v[20] as body_phone,
        v[21] as body_device_id,
        v[22] as body_platform,
        v[23] as body_action,
        v[24] as body_fbclid,
        coalesce(v[26], v[25]) as body_gclid,
        v[27] as body_email_hash,
        v[28] as body_phone_hash,
        -- a group call's traits describe the group (a company's billing address), not the
        -- person: they never become the person's identifiers
        case when v[1] is distinct from 'group' then v[11] end as traits_email,
        case when v[1] is distinct from 'group' then v[12] end as traits_phone,
        case when v[1] is distinct from 'group' then v[29] end as traits_email_hash,
        case when v[1] is distinct from 'group' then v[30] end as traits_phone_hash,
        v[33] as sent_at_segment,
        v[31] as context_email_hash,
        v[32] as context_phone_hash,
        -- t[i] is the type of v[i]
        case
            when has_suspect then json_type(j, landed_line_paths())
        end as t
    from suspects
),

shaped as (
    select
        *,
        case
            when type_value is not null then 'segment'
            when endpoint_value = 'identifier' then 'identifier_api'
            when endpoint_value is not null then 'client_api'
        end as source,
        coalesce(type_value, endpoint_value) as kind,
        case when type_value is null and endpoint_value is not null then json_type(j, '$.body') end
            as body_t,
        -- the identifier API's types (omni-identity-api): platform a string, count_prev_visits
        -- a boolean when sent
        case when endpoint_value = 'identifier' and type_value is null
            then json_type(j, ['$.body.platform', '$.body.count_prev_visits']) end as api_t
    from fields
),

-- The first field of a wrong JSON type. Identifiers, names and click ids may be strings or
-- numbers (many SDKs send numeric user ids; numbers are kept as their text); an object, an
-- array or a boolean where one is expected is a wrong type. t is null when no field is
-- suspect, and then no type is wrong.
typed as (
    select
        *,
        case
            when source = 'segment' then [
                    substr(landed_line_paths()[i], 3)
                    for i in [3, 4, 5, 6, 9, 10, 11, 12, 13, 14, 15, 29, 30, 31, 32]
                    if t[i] in ('OBJECT', 'ARRAY', 'BOOLEAN')
                ][1]
            when source in ('client_api', 'identifier_api') then
                case
                    when body_t is distinct from 'OBJECT' and kind <> 'events' then 'body'
                    else [
                        substr(landed_line_paths()[i], 3)
                        for i in range(17, 29)
                        if t[i] in ('OBJECT', 'ARRAY', 'BOOLEAN')
                    ][1]
                end
        end as wrong_type_field,
        case
            when source = 'segment' and timestamp_text is not null
                and try_cast(timestamp_text as timestamptz) is null then 'timestamp'
            when source = 'segment' and received_at_segment is not null
                and try_cast(received_at_segment as timestamptz) is null then 'receivedAt'
            when source = 'segment' and sent_at_segment is not null
                and try_cast(sent_at_segment as timestamptz) is null then 'sentAt'
            when source <> 'segment' and received_at_api is not null
                and try_cast(received_at_api as timestamptz) is null then 'received_at'
        end as bad_timestamp_field,
        case when body_t = 'ARRAY' then json_array_length(j, '$.body') end as events_in_body,
        coalesce(
            nullif(clean_text(user_id), ''), nullif(clean_text(anonymous_id), ''),
            nullif(clean_text(previous_id), ''), nullif(clean_text(traits_email), ''),
            nullif(clean_text(traits_phone), ''), nullif(clean_text(context_email), ''),
            nullif(clean_text(context_phone), ''), nullif(clean_text(context_device_id), ''),
            nullif(clean_text(body_external_id), ''), nullif(clean_text(body_anonymous_id), ''),
            nullif(clean_text(body_email), ''), nullif(clean_text(body_phone), ''),
            nullif(clean_text(body_device_id), ''), nullif(clean_text(body_email_hash), ''),
            nullif(clean_text(body_phone_hash), ''), nullif(clean_text(traits_email_hash), ''),
            nullif(clean_text(traits_phone_hash), ''), nullif(clean_text(context_email_hash), ''),
            nullif(clean_text(context_phone_hash), '')
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
                and type_value not in ('identify', 'track', 'page', 'screen', 'alias', 'group')
                then 'unknown_type'
            when source <> 'segment'
                and endpoint_value not in ('alias', 'identify', 'devices', 'events', 'identifier')
                then 'unknown_endpoint'
            when kind = 'events' and coalesce(events_in_body, 0) = 0
                then 'events_not_array_of_objects'
            when wrong_type_field is not null then 'wrong_type'
            when kind = 'identifier' and api_t[1] not in ('VARCHAR', 'NULL') then 'wrong_type'
            when kind = 'identifier' and api_t[2] not in ('BOOLEAN', 'NULL') then 'wrong_type'
            when bad_timestamp_field is not null then 'bad_timestamp'
            when kind = 'identifier' and nullif(clean_text(body_platform), '') is null
                then 'missing_platform'
            when kind <> 'events' and not has_identifier then 'no_identifier'
            -- the seeds' own rules on which identifiers a call needs
            when kind = 'identifier' and coalesce(
                    nullif(clean_text(body_anonymous_id), ''), nullif(clean_text(body_email), ''),
                    nullif(clean_text(body_email_hash), '')
                ) is null then 'missing_anonymous_id_or_email'
            when source = 'segment' and kind = 'alias' and (
                    nullif(clean_text(previous_id), '') is null
                    or nullif(clean_text(user_id), '') is null
                ) then 'incomplete_alias'
            when source = 'client_api' and kind = 'alias' and (
                    nullif(clean_text(body_anonymous_id), '') is null
                    or nullif(clean_text(body_external_id), '') is null
                ) then 'incomplete_alias'
            when source = 'client_api' and kind = 'identify'
                and nullif(clean_text(body_external_id), '') is null then 'missing_external_id'
        end as line_reason
    from typed
)

select
    rid,
    day,
    source_file,
    line_number,
    source,
    kind,
    line_reason,
    case line_reason
        when 'blank_line' then 'the line is empty'
        when 'invalid_json' then 'the line is not valid JSON'
        when 'not_an_object' then not_an_object(root_type)
        when 'unknown_shape'
            then 'neither "type" (a Segment message) nor "endpoint" (an API call)'
        when 'unknown_type'
            then 'Segment type ' || json_extract(j, '$.type')::varchar
                || ' is not identify, track, page, screen, alias or group'
        when 'unknown_endpoint'
            then 'endpoint ' || json_extract(j, '$.endpoint')::varchar
                || ' is not alias, identify, devices, events or identifier'
        when 'events_not_array_of_objects'
            then case
                when body_t = 'ARRAY' then 'body of an events call is an empty array'
                else 'body of an events call is not an array'
            end
        when 'wrong_type' then case
                when wrong_type_field = 'body' then 'body must be a JSON object'
                when wrong_type_field is not null
                    then wrong_type_field || ' is an object, array or boolean'
                when api_t[1] not in ('VARCHAR', 'NULL')
                    then 'body.platform must be a string, not ' || case
                        when api_t[1] in ('UBIGINT', 'BIGINT', 'DOUBLE') then 'a number'
                        else 'a ' || lower(api_t[1]) end
                else 'body.count_prev_visits must be a boolean, not ' || case
                        when api_t[2] in ('UBIGINT', 'BIGINT', 'DOUBLE') then 'a number'
                        when api_t[2] = 'VARCHAR' then 'a string'
                        else 'a ' || lower(api_t[2]) end
            end
        when 'bad_timestamp'
            then bad_timestamp_field || ' is not an ISO-8601 timestamp'
        when 'missing_platform' then 'an identifier call needs body.platform'
        when 'no_identifier' then 'no user, anonymous, email, phone or device identifier'
        when 'missing_anonymous_id_or_email'
            then 'an identifier call needs body.anonymous_id or body.email'
        when 'incomplete_alias' then case
                when source = 'segment' then 'an alias needs both previousId and userId'
                else 'an alias needs both body.anonymous_id and body.external_id'
            end
        when 'missing_external_id' then 'a client identify needs body.external_id'
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
    -- the clock skew correction needs the device's own times: its timestamp and sentAt
    case when source = 'segment' and timestamp_text is not null then sent_at_segment end
        as sent_at_text,
    case
        when kind = 'track' then event_value
        when kind in ('page', 'screen') then name_value
        when kind = 'identifier' then body_action
    end as event_name,
    message_id,
    clean_text(coalesce(user_id, body_external_id)) as user_id,
    clean_text(coalesce(anonymous_id, body_anonymous_id)) as anonymous_id,
    clean_text(previous_id) as previous_id,
    coalesce(traits_email, context_email, body_email) as email,
    coalesce(traits_phone, context_phone, body_phone) as phone,
    clean_text(coalesce(context_device_id, body_device_id)) as device_id,
    body_platform as platform,
    body_fbclid as fbclid,
    body_gclid as gclid,
    coalesce(traits_email_hash, context_email_hash, body_email_hash) as email_hash,
    coalesce(traits_phone_hash, context_phone_hash, body_phone_hash) as phone_hash
from judged
