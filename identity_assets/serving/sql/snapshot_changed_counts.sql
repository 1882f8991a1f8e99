-- The snapshot's rows (SQLite) over what a check verifies (`check_days`, `check_identities`
-- staged in temp): the journal's per changed day and per changed identity, profiles and
-- identifiers per changed identity. Each is an index range read.
select 'day ' || day as part, 'identity_journal' as table_name, count(*) as snapshot_rows
from identity_journal
where day in (select key from temp.check_days)
group by day
union all
select 'identity ' || identity_id, 'identity_journal', count(*)
from identity_journal
where identity_id in (select key from temp.check_identities)
group by identity_id
union all
select 'identity ' || identity_id, 'customer_profiles', count(*)
from customer_profiles
where identity_id in (select key from temp.check_identities)
group by identity_id
union all
select 'identity ' || identity_id, 'identity_map', count(*)
from identity_map
where identity_id in (select key from temp.check_identities)
group by identity_id
