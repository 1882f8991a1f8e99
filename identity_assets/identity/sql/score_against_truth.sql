-- Pairwise precision and recall of identity_map against a ground truth of
-- (person_id, identifier_type, normalized_value) rows in the table `truth`: a pair of truth
-- identifiers is predicted when both map to one identity, true when both belong to one person.
with joined as (
    select t.person_id, m.identity_id
    from truth as t
    left join identity_map as m
        on m.identifier_type = t.identifier_type and m.identifier_value = t.normalized_value
),

true_positive as (
    select coalesce(sum(n * (n - 1) / 2), 0) as pairs
    from (select count(*) as n from joined where identity_id is not null group by person_id, identity_id)
),

predicted as (
    select coalesce(sum(n * (n - 1) / 2), 0) as pairs
    from (select count(*) as n from joined where identity_id is not null group by identity_id)
),

actual as (
    select coalesce(sum(n * (n - 1) / 2), 0) as pairs
    from (select count(*) as n from joined group by person_id)
)

select
    (select count(*) from joined where identity_id is null) as unmapped,
    true_positive.pairs / nullif(predicted.pairs, 0) as pair_precision,
    true_positive.pairs / nullif(actual.pairs, 0) as pair_recall
from true_positive, predicted, actual
