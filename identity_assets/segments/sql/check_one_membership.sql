-- An identity is in a segment once, and only identities that exist are.
select identity_id, segment, count(*) as rows, bool_or(i.identity_id is null) as unknown
from segment_membership
left join identities as i using (identity_id)
group by identity_id, segment
having count(*) > 1 or bool_or(i.identity_id is null)
