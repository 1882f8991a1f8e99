-- The identities of the changed days' rows lose rows: their profiles are rebuilt from their
-- journals. Then the rows and their click ids go.
create or replace temp table changed_day_identities as
select distinct identity_id
from identity_journal
where day in (select day from journal_changed_days);

insert into profile_rebuilt
select identity_id from changed_day_identities;

delete from identity_journal
where day in (select day from journal_changed_days);

delete from journal_click_ids
where day in (select day from journal_changed_days);
