-- Every one of the 5 x 5 x 5 RFM score cells must match at least one rule of the seed
-- rfm_segments, or some customers would fall into no segment ('other'). Returns the uncovered
-- cells, so a failing build says exactly which ones to add a rule for.
with scores as (
    select 1 as score
    union all
    select 2
    union all
    select 3
    union all
    select 4
    union all
    select 5
),

cells as (
    select r.score as recency_score, f.score as frequency_score, m.score as monetary_score
    from scores as r
    cross join scores as f
    cross join scores as m
),

rules as (
    select * from {{ ref('rfm_segments') }}
)

select cells.recency_score, cells.frequency_score, cells.monetary_score
from cells
left join rules
    on cells.recency_score between rules.recency_min and rules.recency_max
   and cells.frequency_score between rules.frequency_min and rules.frequency_max
   and cells.monetary_score between rules.monetary_min and rules.monetary_max
group by cells.recency_score, cells.frequency_score, cells.monetary_score
having count(rules.segment_name) = 0
