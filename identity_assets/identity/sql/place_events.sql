-- Place the events of `sightings_to_place`: each goes to the identity of its highest-priority
-- linked identifier (identifier_rules.priority; ties: the smaller value); an event none of whose
-- identifiers links has no placement. The one place this rule is applied.
insert into new_placements
select
    s.event_id,
    s.day,
    arg_min(m.identity_id, (r.priority, m.identifier_value)) as identity_id,
    arg_min(m.identifier_key, (r.priority, m.identifier_value)) as identifier_key
from sightings_to_place as s
inner join identity_map as m using (identifier_type, identifier_value)
inner join identifier_rules as r using (identifier_type)
group by s.event_id, s.day
