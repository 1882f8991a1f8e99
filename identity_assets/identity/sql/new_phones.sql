-- Raw phone strings of the changed days not yet parsed for this region: each distinct string is
-- parsed once, ever, and kept in phone_numbers.
select distinct trim(phone) as raw_phone
from raw_events
where day in (select day from changed_days)
    and phone is not null
    and trim(phone) not in (select raw_phone from phone_numbers where region = $region)
