-- The identifiers whose identity may change: every member of an identity a touched identifier
-- belonged to, and every touched identifier that now links. Components are recomputed over
-- these only; an identity none of them reaches keeps its rows untouched.
create or replace temp table affected_identifiers as
with old_identities as (
    select distinct m.identity_id
    from identity_map as m
    inner join touched as t using (identifier_type, identifier_value)
)

select identifier_type, identifier_value
from identity_map
where identity_id in (select identity_id from old_identities)
union
select identifier_type, identifier_value
from touched
