-- Anonymous ids of this run's graph seen in events with more than one of its user ids, and
-- those user ids: only such an anonymous id can have been aliased twice (alias_conflicts.sql),
-- so only these nodes' sightings are read.
create or replace temp table alias_candidates as
with seen as (
    select a.identifier_key as anonymous_key, u.identifier_key as user_key
    from identifier_pairs as p
    inner join graph_nodes as a using (identifier_type, identifier_value)
    inner join graph_nodes as u
        on u.identifier_type = p.other_type and u.identifier_value = p.other_value
    where p.identifier_type = 'anonymous_id' and p.other_type = 'user_id'
),

twice as (
    select anonymous_key
    from seen
    group by anonymous_key
    having count(*) > 1
)

select anonymous_key as identifier_key
from twice
union
select s.user_key
from seen as s
semi join twice as t using (anonymous_key)
