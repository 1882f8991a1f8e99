-- Anonymous ids of this run's graph seen in events with more than one of its user ids, and
-- those user ids: only such an anonymous id can have been aliased twice (alias_conflicts.sql),
-- so only these nodes' sightings are read.
create or replace temp table alias_candidates as
with seen as (
    select a as anonymous_key, b as user_key
    from graph_edges
    where a_type = 'anonymous_id' and b_type = 'user_id'
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
