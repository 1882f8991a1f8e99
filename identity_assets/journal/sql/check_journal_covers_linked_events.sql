-- The journal holds each placed event exactly once, under the identity and the placing
-- identifier the identity stage placed it with (event_placements), and nothing else. Zero rows
-- means the journal is whole.
with missing as (
    select p.event_id, 'missing from the journal' as problem
    from event_placements as p
    anti join identity_journal as j using (event_id, day)
),

misplaced as (
    select j.event_id, 'in the journal without its placement (identity and identifier)'
    from identity_journal as j
    anti join event_placements as p using (event_id, day, identity_id, identifier_key)
),

copies as (
    select event_id, 'in the journal ' || count(*) || ' times'
    from identity_journal
    group by event_id
    having count(*) > 1
)

select * from missing
union all
select * from misplaced
union all
select * from copies
