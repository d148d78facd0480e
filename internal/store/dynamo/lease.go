package dynamo

import (
	"time"

	"chunkup/internal/upload"
)

// leaseAttrs names the two attributes that keep one upload.Lease in an
// item: the holder's token and the time it lapses, in Unix
// milliseconds. Every lease the store grants, gives up or ends is
// written through these, so the three leases (a part's, a session's
// completion, its multipart start) obey one rule, upload.Lease's.
type leaseAttrs struct{ token, until string }

// The leases the table keeps.
var (
	partLease       = leaseAttrs{token: "claim", until: "claimUntil"}
	completionLease = leaseAttrs{token: "ctoken", until: "cuntil"}
	multipartLease  = leaseAttrs{token: "mpuClaim", until: "mpuClaimUntil"}
)

// grantable is the condition that the lease may be granted to the token
// :t at :now (upload.Lease.GrantableTo): none is recorded, or it has
// lapsed, or it is :t's own (a retried write whose first answer was lost).
func (a leaseAttrs) grantable() string {
	return "(attribute_not_exists(" + a.until + ") OR " + a.until + " <= :now OR " + a.token + " = :t)"
}

// heldBy is the condition that the token :t holds the lease.
func (a leaseAttrs) heldBy() string { return a.token + " = :t" }

// set is the update clause that grants the lease to :t until :u.
func (a leaseAttrs) set() string { return a.token + " = :t, " + a.until + " = :u" }

// remove is the update clause's list of the lease's attributes.
func (a leaseAttrs) remove() string { return a.token + ", " + a.until }

// lapse is the update clause that ends the lease at once, keeping its
// token, so that the holder's later writes still find it theirs.
func (a leaseAttrs) lapse() string { return a.until + " = :zero" }

// decode reads the lease from an item.
func (a leaseAttrs) decode(it item) upload.Lease {
	return upload.Lease{Token: it.str(a.token), Until: it.time(a.until)}
}

// leaseValues are the values the clauses above name, for granting l at
// now; vals, if not nil, is added to.
func leaseValues(vals item, l upload.Lease, now time.Time) item {
	if vals == nil {
		vals = item{}
	}
	vals[":t"], vals[":u"], vals[":now"] = str(l.Token), millis(l.Until), millis(now)
	return vals
}
