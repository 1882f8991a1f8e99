-- The snapshot's customer_profiles rows from the warehouse (`serving_customer_profiles`: all of
-- them, or those a new version copies again): the columns a profile look-up reads.
select identity_id, email, phone, name, first_name, last_name, created_at, traits
from serving_customer_profiles
order by identity_id
