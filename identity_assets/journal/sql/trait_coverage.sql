-- The share of profiles holding each reserved trait, then the most common other traits.
with reserved as (
    unpivot (
        select email, phone, name, first_name, last_name, created_at from customer_profiles
    ) on columns(*) into name trait value present
),

reserved_counts as (
    select trait, count(*) as profiles from reserved group by trait
),

custom as (
    select k.key as trait, count(*) as profiles
    from customer_profiles as p, json_each(p.traits) as k
    group by k.key
    order by profiles desc, trait
    limit 10
)

select
    trait,
    profiles,
    round(100.0 * profiles / (select count(*) from customer_profiles), 1) as percent
from (select * from reserved_counts union all select * from custom)
order by profiles desc, trait
