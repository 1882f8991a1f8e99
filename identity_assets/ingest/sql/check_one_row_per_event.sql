-- Events stored more than once. Zero rows means every event_id is unique.
select event_id, count(*) as copies, min(day) as first_day, max(day) as last_day
from raw_events
group by event_id
having count(*) > 1
order by copies desc, event_id
