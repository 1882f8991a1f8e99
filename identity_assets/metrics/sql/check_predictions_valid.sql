-- Predictions of the changed identities (all in a sweep) that are negative, NaN, infinite or
-- missing, or without a method.
select identity_id, predicted_90d_value, method
from customer_value
where changed_identity(identity_id)
    and (
        predicted_90d_value is null
        or isnan(predicted_90d_value)
        or isinf(predicted_90d_value)
        or predicted_90d_value < 0
        or method is null
    )
