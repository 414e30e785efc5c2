{#- Next-best-action rules kept as data (seeds/action_rules.csv), compiled into SQL.

    Each rule: rule_id, priority (lower = first), condition, action, coupon_value,
    message_template. The first rule (by priority, then rule_id) whose condition is true wins, so
    every customer gets exactly one action; a customer matched by no rule gets the fallback
    action 'no_action' with rule_id 'fallback'.

    A condition is a small boolean expression over the documented input columns only, e.g.
        risk_tier = 'high' and clv_tier in ('high', 'medium')
    Allowed: those column names, string / number literals, and / or / not, in, is [not] null,
    between, true / false, comparison operators and parentheses. Anything else (an unknown
    column, a semicolon, a function call, an unterminated quote) fails the build with an error
    naming the rule, so marketing can edit the seed without being able to break the SQL.
    rule_id reaches SQL too: it must be a name (checked_identifier) and is emitted as an escaped
    literal (sql_literal); the other columns are joined as data and never templated.
-#}

{% macro validate_action_rule(rule_id, condition, allowed_columns) -%}
    {%- set re = modules.re -%}
    {%- set keywords = ['and', 'or', 'not', 'in', 'is', 'null', 'between', 'true', 'false'] -%}
    {%- if condition is none or (condition | trim) == '' -%}
        {{ exceptions.raise_compiler_error("Action rule '" ~ rule_id ~ "': empty condition (use 'true' for a catch-all).") }}
    {%- endif -%}
    {%- if condition.count("'") % 2 != 0 -%}
        {{ exceptions.raise_compiler_error("Action rule '" ~ rule_id ~ "': unterminated string literal in condition: " ~ condition) }}
    {%- endif -%}
    {#- Strip string literals, then every remaining token must be allowed. -#}
    {%- set without_strings = re.sub("'[^']*'", " ", condition) -%}
    {%- set token_pattern = "\\s*(<=|>=|<>|!=|=|<|>|\\(|\\)|,|-?\\d+(?:\\.\\d+)?|[A-Za-z_][A-Za-z0-9_]*)" -%}
    {%- set leftover = re.sub(token_pattern, "", without_strings) | trim -%}
    {%- if leftover != '' -%}
        {{ exceptions.raise_compiler_error("Action rule '" ~ rule_id ~ "': unsupported characters '" ~ leftover ~ "' in condition: " ~ condition) }}
    {%- endif -%}
    {#- Balanced parentheses: a condition cannot close the expression it is pasted into. -#}
    {%- set depth = namespace(value=0, min=0) -%}
    {%- for ch in without_strings if ch in '()' -%}
        {%- set depth.value = depth.value + (1 if ch == '(' else -1) -%}
        {%- set depth.min = [depth.min, depth.value] | min -%}
    {%- endfor -%}
    {%- if depth.value != 0 or depth.min < 0 -%}
        {{ exceptions.raise_compiler_error("Action rule '" ~ rule_id ~ "': unbalanced parentheses in condition: " ~ condition) }}
    {%- endif -%}
    {%- for word in re.findall("[A-Za-z_][A-Za-z0-9_]*", without_strings) -%}
        {%- if word | lower not in keywords and word | lower not in allowed_columns -%}
            {{ exceptions.raise_compiler_error(
                "Action rule '" ~ rule_id ~ "': unknown column '" ~ word ~ "' in condition: " ~ condition
                ~ ". Allowed columns: " ~ allowed_columns | join(', ')) }}
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}

{#- Returns the rules as a list of dicts sorted by priority, validated. -#}
{% macro load_action_rules(rules_relation, allowed_columns) -%}
    {%- if not execute -%}{%- do return([]) -%}{%- endif -%}
    {%- set table = run_query("select rule_id, priority, condition from " ~ rules_relation ~ " order by priority, rule_id") -%}
    {%- set rules = [] -%}
    {%- set seen = [] -%}
    {%- for row in table.rows -%}
        {%- set rule_id = row['rule_id'] -%}
        {%- if rule_id is none or (rule_id | string | trim) == '' -%}
            {{ exceptions.raise_compiler_error("Action rule at priority " ~ row['priority'] ~ " has no rule_id.") }}
        {%- endif -%}
        {%- set rule_id = checked_identifier(rule_id, "Action rule at priority " ~ row['priority'] ~ " in " ~ rules_relation ~ ": rule_id") -%}
        {%- if rule_id in seen -%}
            {{ exceptions.raise_compiler_error("Action rule '" ~ rule_id ~ "' appears twice in " ~ rules_relation ~ ".") }}
        {%- endif -%}
        {%- if row['priority'] is none -%}
            {{ exceptions.raise_compiler_error("Action rule '" ~ rule_id ~ "' has no priority.") }}
        {%- endif -%}
        {%- do validate_action_rule(rule_id, row['condition'], allowed_columns) -%}
        {%- do seen.append(rule_id) -%}
        {%- do rules.append({'rule_id': rule_id, 'condition': row['condition']}) -%}
    {%- endfor -%}
    {%- do return(rules) -%}
{%- endmacro %}

{#- `case when <rule 1> then 'r1' when ... else 'fallback' end`: the id of the first matching rule. -#}
{% macro compile_action_rules(rules_relation, allowed_columns) -%}
    {%- set rules = load_action_rules(rules_relation, allowed_columns | map('lower') | list) -%}
    case
    {%- for rule in rules %}
        when coalesce(({{ rule.condition }}), false) then {{ sql_literal(rule.rule_id) }}
    {%- endfor %}
        else 'fallback'
    end
{%- endmacro %}
