-- Changed identities the warehouse has that the snapshot (SQLite) being written cannot answer
-- for: without a profile or without an identifier. The new version is checked by it before
-- it commits.
select count(*)
from temp.changed as c
where c.live
    and (
        not exists (select 1 from customer_profiles as p where p.identity_id = c.identity_id)
        or not exists (select 1 from identity_map as m where m.identity_id = c.identity_id)
    )
