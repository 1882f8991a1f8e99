-- The snapshot's customer_profiles rows from the warehouse: the columns a profile look-up reads.
select identity_id, email, phone, name, first_name, last_name, created_at, traits
from customer_profiles
order by identity_id
