-- The snapshot's rows (SQLite) of one table over what a check verifies, per changed day or
-- identity (`check_days`, `check_identities` staged in temp): snapshot.py fills in the table
-- (a part of one kept in two, whose counts it adds up), its name, the column and the keys'
-- table. SQLite pushes no filter into a `union`, so each table is a query of its own: one
-- index range read per key.
select '{label} ' || {column} as part, '{name}' as table_name, count(*) as snapshot_rows
from {table}
where {column} in (select key from temp.{keys})
group by {column}
