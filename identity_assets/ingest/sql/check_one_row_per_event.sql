-- Events of the changed days (every day in a sweep) stored more than once, on any day. Zero
-- rows means every such event_id is unique.
select event_id, count(*) as copies, min(day) as first_day, max(day) as last_day
from raw_events
where event_id in (select event_id from raw_events where changed_day(day))
group by event_id
having count(*) > 1
order by copies desc, event_id
