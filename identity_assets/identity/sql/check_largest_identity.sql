-- Changed identities (all in a sweep) holding more identifiers than $max_size: the usual sign of
-- an over-merge.
select identity_id, identifier_count, event_count, anchor_type, anchor_value
from identities
where changed_identity(identity_id) and identifier_count > $max_size
order by identifier_count desc
