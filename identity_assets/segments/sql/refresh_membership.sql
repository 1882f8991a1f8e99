-- The new membership; a membership that continues keeps its `since`.
create or replace temp table next_membership as
select n.identity_id, n.segment, coalesce(o.since, $now) as since
from (select distinct identity_id, segment from new_membership) as n
left join segment_membership as o using (identity_id, segment);
