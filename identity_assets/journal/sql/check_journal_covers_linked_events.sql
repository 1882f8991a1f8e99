-- The journal holds each placed event exactly once, under the identity and the placing
-- identifier the identity stage placed it with (event_placements), and nothing else: over the
-- days and identities the identity stage changed (everything in a sweep). The journal's rows on
-- other days change only with those identities, so the identities the changed days merely
-- reached are not read on other days, where their rows lie all over the history. (A day the
-- journal places again whole for a changed identity's newly placed event is checked for that
-- identity; its other rows, written again unchanged, are the sweep's.) A placement whose journal
-- row sits under another identity counts as missing when only its own identity changed. Zero
-- rows means the journal is whole there. Each table is read as the changed days' rows, which
-- the day's zone maps prune, and the changed identities' rows on other days: an `or` of the
-- two is a filter no scan can prune.
with placed as (
    select event_id, day, identity_id, identifier_key
    from event_placements
    where changed_day(day)
    union all
    select event_id, day, identity_id, identifier_key
    from event_placements
    where changed_identity(identity_id) and not changed_day(day)
),

journal as (
    select event_id, day, identity_id, identifier_key
    from identity_journal
    where changed_day(day)
    union all
    select event_id, day, identity_id, identifier_key
    from identity_journal
    where changed_identity(identity_id) and not changed_day(day)
),

missing as (
    select p.event_id, 'missing from the journal' as problem
    from placed as p
    anti join journal as j using (event_id, day)
),

misplaced as (
    select j.event_id, 'in the journal without its placement (identity and identifier)'
    from journal as j
    anti join placed as p using (event_id, day, identity_id, identifier_key)
),

copies as (
    select event_id, 'in the journal ' || count(*) || ' times'
    from journal
    group by event_id
    having count(*) > 1
)

select * from missing
union all
select * from misplaced
union all
select * from copies
