-- The identity of the email or phone a UID2 hash names (SQLite snapshot).
select identity_id
from identity_map
where identifier_type = $type and uid2_hash = $value
order by identifier_value
limit 1
