-- Swap the touched identifiers' rows for their refreshed ones; an identifier no longer seen
-- anywhere (its day was re-run without it) disappears.
delete from identifiers
using touched as t
where identifiers.identifier_type = t.identifier_type
    and identifiers.identifier_value = t.identifier_value;

insert into identifiers by name
select * from refreshed_identifiers;
