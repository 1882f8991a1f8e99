-- Journal rows whose identity is not in identities.
select j.identity_id, count(*) as rows
from identity_journal as j
anti join identities as i using (identity_id)
group by j.identity_id
