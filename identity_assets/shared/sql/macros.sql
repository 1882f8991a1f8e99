-- Rules more than one stage applies, defined once, created on each connection that uses them.

-- A name in snake_case: `firstName`, `First Name` and `first_name` are one trait, and
-- `Order Completed` and `orderCompleted` one event name (the Customer.io identify spec's
-- spelling). journal/lookup.py applies the same rule to the names a request asks for.
create or replace temp macro snake_name(name) as trim(
    regexp_replace(
        lower(regexp_replace(name, '([a-z0-9])([A-Z])', '\1_\2', 'g')), '[^a-z0-9]+', '_', 'g'
    ),
    '_'
);
