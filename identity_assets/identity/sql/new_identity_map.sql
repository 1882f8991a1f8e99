-- The identities of the recomputed components. An identity's id follows from its anchor, the
-- first-seen identifier (ties: identifier_rules.anchor_rank, then the value), so it does not
-- depend on run order: the identity first seen survives a merge, the part holding the anchor
-- keeps the id after a split, and a rebuild gives the same ids.
create or replace temp table new_identity_map as
with members as (
    select
        c.component,
        c.cluster_key,
        i.identifier_key,
        i.identifier_type,
        i.identifier_value,
        i.first_seen,
        r.anchor_rank
    from graph_components as c
    inner join identifiers as i using (identifier_key)
    inner join identifier_rules as r using (identifier_type)
),

anchors as (
    select component, identifier_type as anchor_type, identifier_value as anchor_value
    from members
    qualify row_number() over (
        partition by component order by first_seen, anchor_rank, identifier_value
    ) = 1
)

select
    m.identifier_type,
    m.identifier_value,
    'id-' || left(md5(a.anchor_type || ':' || a.anchor_value), 20) as identity_id,
    m.identifier_key,
    m.cluster_key,
    a.anchor_type,
    a.anchor_value
from members as m
inner join anchors as a using (component)
