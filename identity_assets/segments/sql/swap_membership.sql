-- Swap the new membership in.
delete from segment_membership;

insert into segment_membership
select identity_id, segment, since from next_membership;
