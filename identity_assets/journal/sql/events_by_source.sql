-- Events and identities by source, for the journal's metadata. The identities come from the
-- profiles (each lists the sources of its rows), so the journal is read for one narrow
-- column only: a distinct count of its identities grew with the history.
with events as (
    select source, count(*) as events
    from identity_journal
    group by source
),

identities as (
    select s.source, count(*) as identities
    from customer_profiles, unnest(sources) as s (source)
    group by s.source
)

select source, e.events, coalesce(i.identities, 0) as identities
from events as e
left join identities as i using (source)
order by source
