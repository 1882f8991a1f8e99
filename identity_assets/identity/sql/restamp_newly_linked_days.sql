-- Days holding events of newly linked identifiers get a new resolved_at, so the stages that
-- follow the identity stage read those days again and take in the events that now link.
update identity_days
set resolved_at = now()
where day in (
    select distinct s.day
    from identifier_sightings as s
    inner join newly_linked as n using (identifier_type, identifier_value)
)
