-- Per buyer before $as_of: the day of its first good purchase and of its second purchase day
-- (-1: one day only), as day numbers counted as Python's date.toordinal counts them. When a model may first be fitted and how many buyers there were on any
-- day follow from these (metrics/cadence.py).
with days as (
    select distinct identity_id, occurred_at::date as day
    from purchases
    where problem is null and occurred_at < $as_of
)

select
    date_diff('day', date '0001-01-01', min(day)) + 1 as first_day,
    coalesce(date_diff('day', date '0001-01-01', list_sort(list(day))[2]) + 1, -1) as second_day
from days
group by identity_id
