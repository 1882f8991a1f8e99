-- The journal events one purchase rule matches, on the journal's changed days (every day:
-- $all_identities), with their amount and currency (run once per rule: JSON paths must be
-- constants). A value that is missing, not a
-- number, negative or beyond any real price (1e30: metrics add amounts up as decimals) is kept
-- with its problem, never read as 0.
insert into purchases by name
with matched as (
    select
        j.identity_id,
        j.event_id,
        j.occurred_at,
        j.day,
        $rule as rule,
        list_filter(json_extract_string(j.payload, $value_paths), lambda v: v is not null)[1]
            as raw_value,
        case when $has_quantity
            then json_extract_string(j.payload, $quantity_path) end as raw_quantity,
        coalesce(
            nullif(upper(trim(json_extract_string(j.payload, $currency_path))), ''),
            $default_currency
        ) as currency
    from identity_journal as j
    where j.source = $source
        and lower(j.event_name) in $event_names
        and ($all_identities or j.day in (select day from purchase_changed_days))
),

judged as (
    select
        *,
        try_cast(raw_value as double) as value,
        coalesce(try_cast(raw_quantity as double), case when raw_quantity is null then 1 end)
            as quantity
    from matched
),

problems as (
    select
        *,
        case
            when raw_value is null then 'missing_value'
            when value is null or isnan(value) or isinf(value) then 'non_numeric_value'
            when value < 0 then 'negative_value'
            when quantity is null or isnan(quantity) or isinf(quantity) or quantity < 0
                then 'non_numeric_quantity'
            when value * quantity >= 1e30 then 'value_out_of_range'
        end as problem
    from judged
)

select
    identity_id,
    event_id,
    occurred_at,
    day,
    rule,
    raw_value,
    case when problem is null then round(value * quantity, 2) end as amount,
    currency,
    problem
from problems;
