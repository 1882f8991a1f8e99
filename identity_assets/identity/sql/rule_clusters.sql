-- Clusters a rule change reaches, re-resolved whole:
-- those holding more values of a type than the old or the new limit allows (limit_changes
-- holds the smaller of the two per type, and is empty unless limits or priority changed; any
-- other cluster is one identity under both rules), and the clusters of the identifiers seen in
-- the same events as an identifier a rule flipped (an unblocked identifier links to them).
create or replace temp table rule_clusters as
with counts as (
    select cluster_key, identifier_type, count(*) as values_held
    from identity_map
    group by cluster_key, identifier_type
),

flipped_events as (
    select distinct s.event_id
    from identifier_sightings as s
    inner join rule_touched as r using (identifier_type, identifier_value)
)

select distinct c.cluster_key
from counts as c
inner join limit_changes as l using (identifier_type)
where c.values_held > l.max_values
union
select distinct m.cluster_key
from identifier_sightings as s
inner join identity_map as m using (identifier_type, identifier_value)
where s.event_id in (select event_id from flipped_events)
