-- ml_customer_cluster_profiles is computed from ml_customer_segments' assignments; they must
-- agree: every cluster's profile has exactly the customers and the label the segments table
-- gives it (and each cluster one label). Returns the clusters where they disagree.
with assigned as (
    select cluster_id, min(cluster_label) as cluster_label, max(cluster_label) as max_label, count(*) as n_customers
    from {{ ref('ml_customer_segments') }}
    group by cluster_id
),

profiles as (
    select cluster_id, cluster_label, n_customers
    from {{ ref('ml_customer_cluster_profiles') }}
)

select
    coalesce(profiles.cluster_id, assigned.cluster_id) as cluster_id,
    profiles.n_customers as profile_customers,
    assigned.n_customers as assigned_customers,
    profiles.cluster_label as profile_label,
    assigned.cluster_label as assigned_label
from profiles
full outer join assigned on profiles.cluster_id = assigned.cluster_id
where coalesce(profiles.n_customers, 0) <> coalesce(assigned.n_customers, 0)
   or (assigned.cluster_id is not null
       and (
           profiles.cluster_label is distinct from assigned.cluster_label
           or assigned.cluster_label <> assigned.max_label
       )
       )
