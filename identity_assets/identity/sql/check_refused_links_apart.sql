-- Refused links whose two identifiers ended up in one changed identity (any, in a sweep): a
-- limit that did not hold.
select r.identifier_type, r.identifier_value, r.kept_type, r.kept_value, r.rule, a.identity_id
from identity_refused_links as r
inner join identity_map as a
    on a.identifier_type = r.identifier_type and a.identifier_value = r.identifier_value
inner join identity_map as b
    on b.identifier_type = r.kept_type and b.identifier_value = r.kept_value
where a.identity_id = b.identity_id and changed_identity(a.identity_id)
