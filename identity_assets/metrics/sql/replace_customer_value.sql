-- Predicted 90-day value per identity. The model's expected purchases (BG/NBD, by summary row)
-- times its expected order value (Gamma-Gamma, closed form from the currency's fitted p, q, v:
-- E[M] = p (v + x m) / (p x + q - 1)), or the identity's own average order value where its
-- currency has no Gamma-Gamma fit (`method` gives gamma_gamma_fits.reason). Identities the
-- model cannot score get the seed's formula,
-- avg_order_value * purchase_frequency * 90 * (1 + engagement_score * 0.1), with `method`
-- saying why.
delete from customer_value;

insert into customer_value by name
with scored as (
    select
        c.*,
        e.expected_purchases,
        g.p,
        g.q,
        g.v,
        g.reason as gamma_gamma_reason,
        c.avg_order_value * c.purchase_frequency * $horizon * (1 + c.engagement_score * 0.1)
            as baseline
    from customer_metrics as c
    left join expected_purchases as e
        on c.total_purchases > 0
        and e.x = c.repeat_purchases
        and e.t_x = c.purchase_span_days
        and e.age = c.customer_age_days
    left join gamma_gamma_fits as g on g.currency = c.currency
),

valued as (
    select
        *,
        case
            when p is not null
                then p * (v + repeat_purchases * coalesce(repeat_order_value, 0))
                / (p * repeat_purchases + q - 1)
            else avg_order_value
        end as order_value
    from scored
)

select
    identity_id,
    case
        when total_purchases = 0 or expected_purchases is null then baseline
        else expected_purchases * order_value
    end as predicted_90d_value,
    case
        when total_purchases = 0 then 'baseline: no purchases'
        when expected_purchases is null then 'baseline: ' || $unfitted_reason
        when p is not null then 'bg_nbd_gamma_gamma'
        else 'bg_nbd_own_average: ' || gamma_gamma_reason
    end as method,
    expected_purchases as predicted_purchases,
    case when total_purchases > 0 and expected_purchases is not null then order_value end
        as predicted_order_value,
    baseline as baseline_90d_value,
    currency,
    as_of
from valued;
