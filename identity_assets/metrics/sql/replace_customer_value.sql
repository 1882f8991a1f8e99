-- Predicted 90-day value per identity: the chosen model's prediction for each buyer (staged
-- in value_predictions, with its `method`), or, for identities without purchases and for
-- every buyer when no model may predict, the seed's formula,
-- avg_order_value * purchase_frequency * 90 * (1 + engagement_score * 0.1), with `method`
-- saying why.
delete from customer_value;

insert into customer_value by name
with scored as (
    select
        c.*,
        v.predicted_value,
        v.predicted_purchases,
        v.predicted_order_value,
        v.method as model_method,
        c.avg_order_value * c.purchase_frequency * $horizon * (1 + c.engagement_score * 0.1)
            as baseline
    from customer_metrics as c
    left join value_predictions as v
        on c.total_purchases > 0
        and v.identity_id = c.identity_id
)

select
    identity_id,
    case when model_method is null then baseline else predicted_value end as predicted_90d_value,
    case
        when total_purchases = 0 then 'baseline: no purchases'
        when model_method is null then 'baseline: ' || $unfitted_reason
        else model_method
    end as method,
    predicted_purchases,
    predicted_order_value,
    baseline as baseline_90d_value,
    currency,
    as_of
from scored;
