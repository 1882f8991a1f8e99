-- Replace the refused links of the re-resolved clusters with this run's.
delete from identity_refused_links
where cluster_key in (select cluster_key from affected_clusters);

insert into identity_refused_links by name
select
    refused.identifier_type,
    refused.identifier_value,
    kept.identifier_type as kept_type,
    kept.identifier_value as kept_value,
    r.rule,
    r.first_event_id,
    r.first_day,
    r.events,
    r.cluster_key
from run_refusals as r
inner join identifiers as refused on refused.identifier_key = r.refused_key
inner join identifiers as kept on kept.identifier_key = r.kept_key;
