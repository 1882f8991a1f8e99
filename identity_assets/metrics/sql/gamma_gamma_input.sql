-- Repeat buyers' purchase days and mean repeat-day spend, in one currency, in one total order
-- (the fit's result depends on the order of its rows).
select repeat_purchases as x, repeat_order_value as m
from customer_metrics
where repeat_purchases > 0 and repeat_order_value > 0 and currency = $currency
order by all
