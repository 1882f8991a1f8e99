-- Identifiers that link now but did not before (unblocked by hand, by a raised sharing guard,
-- or because a re-delivered day took back the events that made them look shared). Their events
-- on days this run did not read may now belong in the journal.
create or replace temp table newly_linked as
select r.identifier_type, r.identifier_value
from refreshed_identifiers as r
inner join identifiers as i using (identifier_type, identifier_value)
where r.status = 'linked' and i.status = 'blocked'
