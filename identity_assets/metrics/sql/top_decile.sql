-- The top tenth of identities by predicted value: how many, from what value, what share.
with ranked as (
    select
        predicted_90d_value,
        ntile(10) over (order by predicted_90d_value desc, identity_id) as decile
    from customer_value
)

select
    count(*) as identities,
    round(min(predicted_90d_value), 2) as from_value,
    round(avg(predicted_90d_value), 2) as mean_value,
    round(100 * sum(predicted_90d_value)
        / nullif((select sum(predicted_90d_value) from customer_value), 0), 1)
        as percent_of_predicted_value
from ranked
where decile = 1
