{#- Generic data tests for the retention marts (prefixed so they cannot collide with others). -#}

{#- Each segment_type partitions the customers, so for every key (e.g. cohort x period) and every
    segment_type, the measures summed over its segment_values equal the 'overall' row. Fails on
    each (key, segment_type, measure) that does not add up. -#}
{% test retention_segments_add_up(model, keys, measures, segment_type_column='segment_type', overall_value='overall') %}
with by_type as (
    select
        {{ keys | join(', ') }},
        {{ segment_type_column }} as segment_type
        {%- for measure in measures %},
        sum({{ measure }}) as {{ measure }}
        {%- endfor %}
    from {{ model }}
    group by {{ keys | join(', ') }}, {{ segment_type_column }}
),

overall as (
    select * from by_type where segment_type = '{{ overall_value }}'
),

segment_types as (
    select distinct segment_type from by_type
),

expected as (
    select overall.*, segment_types.segment_type as checked_segment_type
    from overall
    cross join segment_types
)

{%- for measure in measures %}
select
    {%- for key in keys %}
    expected.{{ key }},
    {%- endfor %}
    expected.checked_segment_type,
    '{{ measure }}' as measure,
    expected.{{ measure }} as overall_value,
    by_type.{{ measure }} as segment_sum
from expected
left join by_type
    on by_type.segment_type = expected.checked_segment_type
    {%- for key in keys %}
    and by_type.{{ key }} = expected.{{ key }}
    {%- endfor %}
where by_type.{{ measure }} is null or by_type.{{ measure }} <> expected.{{ measure }}
{{ 'union all' if not loop.last }}
{%- endfor %}
{% endtest %}

{#- The column never decreases (or never increases, direction='non_increasing') along order_by
    within each partition: cumulative quantities and survival curves are monotone. -#}
{% test retention_monotonic(model, column_name, partition_by, order_by, direction='non_decreasing', tolerance=1e-9) %}
with ordered as (
    select
        {{ partition_by | join(', ') }},
        {{ order_by }} as ordered_by,
        {{ column_name }} as value,
        lag({{ column_name }}) over (
            partition by {{ partition_by | join(', ') }} order by {{ order_by }}
        ) as previous_value
    from {{ model }}
)

select *
from ordered
where previous_value is not null
{%- if direction == 'non_decreasing' %}
    and value < previous_value - {{ tolerance }}
{%- elif direction == 'non_increasing' %}
    and value > previous_value + {{ tolerance }}
{%- else %}
    {{ exceptions.raise_compiler_error("retention_monotonic: direction must be non_decreasing or non_increasing, got '" ~ direction ~ "'") }}
{%- endif %}
{% endtest %}
