-- Segments nobody is in: a condition that matches nothing on this data (a threshold beyond
-- every value, a column that is always null) sends no update and says nothing else.
select segment
from (select unnest($segments) as segment)
where segment not in (select segment from segment_membership)
order by segment
