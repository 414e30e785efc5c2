-- Product x aspect and category x aspect review insights: how often an aspect is mentioned,
-- how often negatively, its mean polarity, the change against the previous period of the same
-- length, and the most negative review of the period as an example. Periods are
-- (as_of - p, as_of] (current) and (as_of - 2p, as_of - p] (previous), p = var text_insight_period_days.
with as_of as (
    select as_of from {{ ref('int_as_of') }}
),

mentions as (
    select
        scored.review_id,
        scored.product_id,
        scored.category,
        scored.created_at,
        scored.sentiment_score,
        unnest(scored.aspects) as mention
    from {{ ref('ml_review_sentiment') }} as scored
),

periods as (
    select
        mentions.review_id,
        mentions.product_id,
        coalesce(mentions.category, '(unknown)') as category,
        mentions.sentiment_score,
        mentions.mention.aspect,
        cast(mentions.mention.polarity as integer) as polarity,
        mentions.mention.aspect_score,
        case
            when mentions.created_at > {{ dbt.dateadd('day', -var('text_insight_period_days'), 'as_of.as_of') }}
                then 'current'
            when mentions.created_at > {{ dbt.dateadd('day', -2 * var('text_insight_period_days'), 'as_of.as_of') }}
                then 'previous'
        end as period
    from mentions
    cross join as_of
),

grains as (
    select 'product' as grain, product_id, category, review_id, sentiment_score, aspect, polarity, aspect_score, period
    from periods
    where period is not null
    union all
    select 'category' as grain, cast(null as varchar) as product_id, category, review_id, sentiment_score, aspect,
        polarity, aspect_score, period
    from periods
    where period is not null
),

aggregated as (
    select
        grain,
        product_id,
        category,
        aspect,
        count(case when period = 'current' then 1 end) as reviews,
        avg(case when period = 'current' then cast(polarity = -1 as integer) end) as negative_share,
        avg(case when period = 'current' then aspect_score end) as avg_aspect_score,
        count(case when period = 'previous' then 1 end) as reviews_previous,
        avg(case when period = 'previous' then cast(polarity = -1 as integer) end) as negative_share_previous
    from grains
    group by grain, product_id, category, aspect
),

worst as (
    -- The current period's most negative review per group (lowest review sentiment, then id).
    select grain, product_id, category, aspect, review_id
    from (
        select
            grain,
            product_id,
            category,
            aspect,
            review_id,
            row_number() over (
                partition by grain, product_id, category, aspect order by sentiment_score asc, review_id asc
            ) as position
        from grains
        where period = 'current' and polarity = -1
    ) as ranked
    where position = 1
)

select
    aggregated.grain,
    aggregated.product_id,
    aggregated.category,
    aggregated.aspect,
    cast(aggregated.reviews as bigint) as reviews,
    cast(aggregated.negative_share as double) as negative_share,
    cast(aggregated.avg_aspect_score as double) as avg_aspect_score,
    cast(aggregated.reviews_previous as bigint) as reviews_previous,
    cast(aggregated.negative_share_previous as double) as negative_share_previous,
    cast(aggregated.negative_share - aggregated.negative_share_previous as double) as negative_share_change,
    worst.review_id as representative_negative_review_id,
    texts.review_text as representative_negative_review_text
from aggregated
left join worst
    on
        aggregated.grain = worst.grain
        and aggregated.category = worst.category
        and aggregated.aspect = worst.aspect
        and coalesce(aggregated.product_id, '') = coalesce(worst.product_id, '')
left join {{ ref('int_reviews_in_window') }} as texts
    on worst.review_id = texts.review_id
