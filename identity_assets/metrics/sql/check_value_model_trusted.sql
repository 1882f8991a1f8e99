-- Buyers whose value no trusted model made, by method: the seed's formula standing in (short
-- history, too few repeat buyers, a failed or degenerate fit), recent spend chosen because no
-- fitted model did better, a total scaled to the backtest, or a model never backtested.
select method, count(*) as identities
from customer_value
where method <> 'baseline: no purchases'
    and (
        method like 'baseline:%'
        or method like 'recent_spend%'
        or method like '%on the backtest, scaled by%'
        or method like '%not backtested:%'
    )
group by method
order by method
