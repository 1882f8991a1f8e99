-- Purchase events whose value could not be used, with what was wrong: counted, never zero.
select identity_id, event_id, occurred_at, rule, raw_value, problem
from purchases
where problem is not null
order by occurred_at desc
