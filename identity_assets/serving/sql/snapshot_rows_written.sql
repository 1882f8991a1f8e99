-- The warehouse's rows of the changed identities (`serving_wanted`) the snapshot does not hold
-- (`serving_held`), compared by {compared}, in key order; a row held twice comes once.
select distinct w.*
from serving_wanted as w
semi join (
    select {compared} from serving_wanted
    except
    select {compared} from serving_held
) as d
    on {matched}
order by {key}
