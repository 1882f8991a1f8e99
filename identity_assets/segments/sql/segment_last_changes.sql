-- The identities and segments this queue wrote to (queue_seq after $before) take the change
-- queued as their last one; a pair is queued at most once a run.
merge into segment_last_changes as l
using (
    select identity_id, segment, change
    from segment_updates
    where queue_seq > $before
) as q
    on l.identity_id = q.identity_id and l.segment = q.segment
when matched then update set change = q.change, changes = l.changes + 1
when not matched then
    insert (identity_id, segment, change, changes)
    values (q.identity_id, q.segment, q.change, 1)
