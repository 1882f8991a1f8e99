-- The identities of one segment. `{where}` is the segment's condition from configuration (SQL
-- written by the user, so it is code, not a value: it is the one thing formatted into a query).
insert into new_membership
select m.identity_id, $segment as segment
from customer_metrics as m
inner join customer_value as v using (identity_id)
left join customer_profiles as p using (identity_id)
where ({where})
