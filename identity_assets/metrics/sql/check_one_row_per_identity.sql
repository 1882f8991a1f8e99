-- customer_metrics and customer_value each hold one row per changed identity (per identity in a
-- sweep).
with counts as (
    select identity_id, 'customer_metrics' as table_name, count(*) as copies
    from customer_metrics
    where changed_identity(identity_id)
    group by identity_id
    union all
    select identity_id, 'customer_value', count(*)
    from customer_value
    where changed_identity(identity_id)
    group by identity_id
)

select i.identity_id, t.table_name, coalesce(c.copies, 0) as copies
from identities as i
cross join (values ('customer_metrics'), ('customer_value')) as t (table_name)
left join counts as c using (identity_id, table_name)
where changed_identity(i.identity_id) and coalesce(c.copies, 0) <> 1
union all
select c.identity_id, c.table_name, c.copies
from counts as c
anti join identities as i using (identity_id)
