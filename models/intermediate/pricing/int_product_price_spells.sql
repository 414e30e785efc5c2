-- One row per price spell that starts by as_of: the price in effect from valid_from until
-- valid_to (the product's next spell; null = still in effect at as_of).
select
    product_id,
    valid_from,
    lead(valid_from) over (partition by product_id order by valid_from)   as valid_to,
    cast(list_price as double)                                            as list_price,
    is_promotion,
    cast(valid_from as date)                                              as valid_from_date
from {{ ref('stg_shop__price_history') }}
where valid_from <= {{ as_of() }}
