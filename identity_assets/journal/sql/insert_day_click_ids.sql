-- One changed day's click ids, read from its events as the identity stage keeps them (trimmed).
insert into journal_click_ids
select event_id, day, 'fbclid', clean_text(fbclid)
from raw_events
where day = $day and fbclid is not null
union all
select event_id, day, 'gclid', clean_text(gclid)
from raw_events
where day = $day and gclid is not null;
