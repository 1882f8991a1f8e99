-- Identifiers a rule change flips join the touched set: blocked or unblocked by hand, or on
-- either side of a changed sharing guard (strong_values between the old and the new limit).
create or replace temp table rule_touched as
select i.identifier_type, i.identifier_value
from identifiers as i
inner join block_changes as b using (identifier_type, identifier_value)
union
select identifier_type, identifier_value
from identifiers
where strong_values > (select low from sharing_change)
    and strong_values <= (select high from sharing_change);

insert into touched
select * from rule_touched
except
select * from touched;
