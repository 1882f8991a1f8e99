-- Remember which version of each journal day, under which rules, purchases now reflect.
delete from purchase_days;

insert into purchase_days
select day, resolved_at, $rules
from journal_days
