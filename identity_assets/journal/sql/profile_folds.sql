-- Survivors of whole merges fold in the profiles they absorbed rather than being rebuilt from
-- their journals (`profile_folded`). An identity all of whose rows moved to one survivor, that
-- is gone and lost no row on the changed days, gave the survivor exactly the rows its stored
-- profile describes: its traits, counts, sources and click ids fold in as a day's rows do. A
-- survivor that lost a row, or gained one from an identity that did not move whole into it,
-- is rebuilt as before.
create or replace temp table profile_gains as
select previous_identity_id as absorbed_id, identity_id
from followed_rows
where identity_id is distinct from previous_identity_id;

create or replace temp table profile_fold_candidates as
with whole as (
    select absorbed_id, any_value(identity_id) as identity_id
    from profile_gains
    group by absorbed_id
    having count(distinct identity_id) = 1 and count(identity_id) = count(*)
)

select w.identity_id, w.absorbed_id
from whole as w
where w.absorbed_id not in (select identity_id from identities)
    and w.absorbed_id not in (select identity_id from changed_day_identities)
    and w.absorbed_id in (select identity_id from customer_profiles)
    and w.identity_id in (select identity_id from customer_profiles)
    and w.identity_id not in (select absorbed_id from profile_gains)
    and w.identity_id not in (select identity_id from changed_day_identities);

insert into profile_folded
select c.identity_id, c.absorbed_id
from profile_fold_candidates as c
where c.identity_id not in (
    select g.identity_id
    from profile_gains as g
    anti join profile_fold_candidates as f using (absorbed_id, identity_id)
    where g.identity_id is not null
);
