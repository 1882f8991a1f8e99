-- The identifiers whose identity may change: every member of a cluster (the linked component
-- before limits split it) a touched identifier belonged to, every member of a cluster a rule
-- change reaches (rule_clusters), and every touched identifier. Components are recomputed over
-- these only; a cluster none of them reaches keeps its rows untouched.
create or replace temp table affected_clusters as
select distinct m.cluster_key
from identity_map as m
inner join touched as t using (identifier_type, identifier_value)
union
select cluster_key
from rule_clusters;

create or replace temp table affected_identifiers as
select identifier_type, identifier_value
from identity_map
where cluster_key in (select cluster_key from affected_clusters)
union
select identifier_type, identifier_value
from touched;
