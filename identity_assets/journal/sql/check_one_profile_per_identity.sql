-- customer_profiles has one row per changed identity (per identity in a sweep): identities
-- without one, profiles of identities that no longer exist, and identities with more than one.
with profiles as (
    select identity_id, count(*) as copies
    from customer_profiles
    where changed_identity(identity_id)
    group by identity_id
),

known as (
    select identity_id from identities where changed_identity(identity_id)
)

select
    coalesce(i.identity_id, p.identity_id) as identity_id,
    case
        when p.identity_id is null then 'no profile'
        when i.identity_id is null then 'profile of an unknown identity'
        else p.copies || ' profiles'
    end as problem
from known as i
full outer join profiles as p using (identity_id)
where i.identity_id is null or p.identity_id is null or p.copies > 1
