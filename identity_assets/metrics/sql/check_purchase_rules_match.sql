-- Purchase rules that matched no event: usually a rule that names events, or a source, the
-- data does not have, so purchases (and value) are silently missing.
select rule
from (select unnest($rules) as rule)
where rule not in (select rule from purchases)
order by rule
