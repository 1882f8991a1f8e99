-- The changed days and identities (`changed_day`, `changed_identity`) whose rows the snapshot
-- (`snapshot_counts`, read from it for the same days and identities) holds another number of
-- than the warehouse: the journal's per day, profiles and identifiers per identity. The sweep
-- compares whole tables (check_snapshot_counts.sql).
with warehouse as (
    select
        'day ' || strftime(day, '%Y-%m-%d') as part,
        'identity_journal' as table_name,
        count(*) as warehouse_rows
    from identity_journal
    where changed_day(day)
    group by day
    union all
    select 'identity ' || identity_id, 'customer_profiles', count(*)
    from customer_profiles
    where changed_identity(identity_id)
    group by identity_id
    union all
    select 'identity ' || identity_id, 'identity_map', count(*)
    from identity_map
    where changed_identity(identity_id)
    group by identity_id
)

select
    table_name,
    part,
    coalesce(w.warehouse_rows, 0) as warehouse_rows,
    coalesce(s.snapshot_rows, 0) as snapshot_rows
from warehouse as w
full outer join snapshot_counts as s using (table_name, part)
where coalesce(w.warehouse_rows, 0) <> coalesce(s.snapshot_rows, 0)
order by table_name, part
