-- A digest of who is in which segment since when: the data version of segment_membership.
select count(*), coalesce(bit_xor(hash(identity_id, segment, since)), 0)
from segment_membership
