-- The buyers' BG/NBD summaries, one row per distinct (x, t_x, T) with how many share it: the
-- fit and the predictions run over these few thousand rows, not over every identity.
select
    repeat_purchases as x,
    purchase_span_days as t_x,
    customer_age_days as age,
    count(*) as buyers
from customer_metrics
where total_purchases > 0
group by all
order by all
