-- Tables whose row count in the snapshot (`snapshot_counts`, read from it) differs from the
-- warehouse's.
select s.table_name, w.warehouse_rows, s.snapshot_rows
from snapshot_counts as s
inner join (
    select 'identity_journal' as table_name, (select count(*) from identity_journal) as warehouse_rows
    union all
    select 'customer_profiles', (select count(*) from customer_profiles)
    union all
    select 'identity_map', (select count(*) from identity_map)
) as w using (table_name)
where w.warehouse_rows <> s.snapshot_rows
order by s.table_name
