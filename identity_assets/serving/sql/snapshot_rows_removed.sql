-- The keys ({key}) of the changed identities' rows the snapshot holds (`serving_held`) that the
-- warehouse no longer does (`serving_wanted`), compared by {compared}.
select distinct {key}
from (
    select {compared} from serving_held
    except
    select {compared} from serving_wanted
)
order by {key}
