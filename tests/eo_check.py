"""eo_check: the read-back analysis and the exactly-once checks shared by
it_exactly_once.py (librdkafka's producer) and it_client_exactly_once.py
(weir's), both through tests/fault_proxy.py (not a test itself: CMake
registers tests/it_*.py).
"""

import it_common as C


def stored_counts(n, got):
    """got: partition -> sequence numbers in offset order (-1: not ours).
    Returns (count, stored, reordered): copies of each sequence number
    (capped at 255), records stored, and first copies stored after a record
    sent later in the same partition."""
    count = bytearray(n)
    stored = 0
    reordered = 0
    for a in got.values():
        top = -1
        for seq in a:
            if seq < 0:
                continue
            stored += 1
            c = count[seq]
            if c < 255:
                count[seq] = c + 1
            if c == 0:
                if seq < top:
                    reordered += 1  # first copy stored after a record sent later
                else:
                    top = seq
    return count, stored, reordered


def check_idempotent(label, r, fatal, fatal_detail, mismatch_detail):
    """The checks of an idempotent run: no fatal error, every acked record
    stored once, in send order, at the offset its delivery report gave."""
    C.check(not fatal, f"{label} the idempotent producer hit no fatal error", fatal_detail)
    C.check(r["missing_acked"] == 0, f"{label} every acked record is stored",
            f"{r['missing_acked']} acked records missing")
    C.check(r["duplicated"] == 0, f"{label} no record stored twice (exactly once)",
            f"{r['duplicated']} records duplicated, {r['extra_copies']} extra copies "
            f"({r['dup_unacked']} of them not acked)")
    C.check(r["reordered"] == 0, f"{label} records stored in send order within each partition",
            f"{r['reordered']} out of order")
    C.check(r["dr_mismatch"] == 0, f"{label} every delivery report names the offset holding its record",
            mismatch_detail)
