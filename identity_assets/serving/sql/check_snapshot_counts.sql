-- Tables whose row count in the snapshot (attached as `snapshot`) differs from the warehouse's.
select *
from (
    select
        'identity_journal' as table_name,
        (select count(*) from identity_journal) as warehouse_rows,
        (select count(*) from snapshot.identity_journal) as snapshot_rows
    union all
    select
        'customer_profiles',
        (select count(*) from customer_profiles),
        (select count(*) from snapshot.customer_profiles)
    union all
    select
        'identity_map',
        (select count(*) from identity_map),
        (select count(*) from snapshot.identity_map)
    union all
    select
        'identifiers',
        (select count(*) from identifiers),
        (select count(*) from snapshot.identifiers)
) as counts
where warehouse_rows <> snapshot_rows
order by table_name
