-- Customer x product implicit feedback up to as_of (see macro user_item_interactions).
{{ user_item_interactions([{'at': as_of()}]) }}
