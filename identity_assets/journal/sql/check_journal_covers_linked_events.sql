-- Every event with a linked identifier is in the journal exactly once, under the identity of
-- the identifier that placed it. Zero rows means the journal is whole. Written so that the
-- costly join (sightings to identity_map) runs only over the few sightings of events the
-- journal does not hold.
with not_in_journal as (
    select s.event_id, s.identifier_type, s.identifier_value
    from identifier_sightings as s
    anti join identity_journal as j using (event_id)
),

missing as (
    select distinct n.event_id, 'missing from the journal' as problem
    from not_in_journal as n
    semi join identity_map as m using (identifier_type, identifier_value)
),

misplaced as (
    select j.event_id, 'in the journal without its placing identifier linked to its identity'
    from identity_journal as j
    anti join identity_map as m
        on m.identifier_key = j.identifier_key and m.identity_id = j.identity_id
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
