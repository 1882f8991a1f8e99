-- The touched identifiers' neighbour pairs after this run (their stored counts plus
-- neighbour_changes), and identifier_pairs brought up to date: only the pairs whose count
-- changed are rewritten. Every changed pair's identifier was seen on a day read, so is touched.
create or replace temp table stored_neighbours as
select rowid as row_id, n.*
from identifier_pairs as n
semi join touched as t using (identifier_type, identifier_value);

create or replace temp table changed_neighbours as
select identifier_type, identifier_value, other_type, other_value, sum(events) as events
from neighbour_changes
group by all
having sum(events) <> 0;

create or replace temp table run_neighbours as
select
    identifier_type,
    identifier_value,
    other_type,
    other_value,
    coalesce(s.events, 0) + coalesce(c.events, 0) as events,
    c.events is not null as changed
from stored_neighbours as s
full outer join changed_neighbours as c
    using (identifier_type, identifier_value, other_type, other_value)
where coalesce(s.events, 0) + coalesce(c.events, 0) > 0;

delete from identifier_pairs
where rowid in (
    select s.row_id
    from stored_neighbours as s
    semi join changed_neighbours as c
        using (identifier_type, identifier_value, other_type, other_value)
);

insert into identifier_pairs
select identifier_type, identifier_value, other_type, other_value, events
from run_neighbours
where changed;
