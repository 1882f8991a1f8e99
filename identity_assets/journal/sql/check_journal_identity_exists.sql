-- Journal rows of the changed days and identities (all in a sweep) whose identity is not in
-- identities.
select j.identity_id, count(*) as rows
from identity_journal as j
anti join identities as i using (identity_id)
where changed_day(j.day) or changed_identity(j.identity_id)
group by j.identity_id
