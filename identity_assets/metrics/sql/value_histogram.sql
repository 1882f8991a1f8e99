-- Predicted 90-day values in bands, for the materialization's metadata.
select
    case
        when predicted_90d_value = 0 then '0'
        when predicted_90d_value <= 10 then '0-10'
        when predicted_90d_value <= 50 then '10-50'
        when predicted_90d_value <= 100 then '50-100'
        when predicted_90d_value <= 250 then '100-250'
        when predicted_90d_value <= 500 then '250-500'
        when predicted_90d_value <= 1000 then '500-1000'
        else '1000+'
    end as band,
    count(*) as identities,
    round(sum(predicted_90d_value), 2) as predicted_value
from customer_value
group by band
order by min(predicted_90d_value)
