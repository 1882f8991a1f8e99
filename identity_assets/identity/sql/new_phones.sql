-- Raw phone strings of the changed days not yet parsed for this region: each distinct string is
-- parsed once, ever, and kept in phone_numbers.
select distinct clean_text(phone) as raw_phone
from raw_events
where day in (select day from changed_days)
    and phone is not null
    and not regexp_full_match(clean_text(phone), '[A-Za-z0-9+/]{43}=')
    and clean_text(phone) not in (select raw_phone from phone_numbers where region = $region)
