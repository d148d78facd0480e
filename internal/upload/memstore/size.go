package memstore

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// DynamoDB's bounds on one item and its key, which the DynamoDB store's
// items are held to here.
const (
	// maxItemSize is the largest item DynamoDB stores: 400 KB.
	maxItemSize = 400 * 1024
	// maxPartitionKey is the longest partition key value.
	maxPartitionKey = 2048
)

// item measures a DynamoDB item as DynamoDB does: each attribute's name
// and value, a string by its UTF-8 bytes, a number by its significant
// digits, a list or map by its elements plus a few bytes of overhead.
// Attributes are added under the names the DynamoDB store gives them.
type item struct{ size int }

func (it *item) str(name, v string) {
	if v != "" {
		it.size += len(name) + len(v)
	}
}

func (it *item) num(name string, n int64) { it.size += len(name) + numSize(strconv.FormatInt(n, 10)) }

func (it *item) unum(name string, n uint64) {
	it.size += len(name) + numSize(strconv.FormatUint(n, 10))
}

func (it *item) boolean(name string) { it.size += len(name) + 1 }

func (it *item) bytes(name string, b []byte) { it.size += len(name) + len(b) }

// strList adds a list of strings.
func (it *item) strList(name string, vs []string) {
	it.size += len(name) + 3
	for _, v := range vs {
		it.size += 1 + len(v)
	}
}

// mapOf adds a map whose entries fill adds; each entry costs a byte more.
func (it *item) mapOf(name string, entries int, fill func(*item)) {
	inner := &item{}
	fill(inner)
	it.size += len(name) + 3 + entries + inner.size
}

// numSize is what a number weighs in DynamoDB: a byte, and a byte for
// every two significant digits (and one more for some even counts, and
// for a sign), as dynalite reckons it.
func numSize(v string) int {
	neg := strings.HasPrefix(v, "-")
	digits := strings.TrimLeft(strings.TrimPrefix(v, "-"), "0")
	if digits == "" {
		return 1
	}
	exp := len(digits) - 1
	digits = strings.TrimRight(digits, "0")
	n := 1 + (len(digits)+1)/2
	if len(digits)%2 == 0 && exp%2 == 0 {
		n++
	}
	if neg {
		n++
	}
	return n
}

// tooLarge refuses a write that would leave an item over maxItemSize, as
// DynamoDB does (update says whether the write is an update).
func tooLarge(size int, update bool) error {
	if size <= maxItemSize {
		return nil
	}
	what := "Item size"
	if update {
		what = "Item size to update"
	}
	return refusal("ValidationException", "%s has exceeded the maximum allowed size (%d bytes, the limit is %d)", what, size, maxItemSize)
}

// Partition keys as the DynamoDB store writes them.

func sessionPK(id string) string { return "U#" + id }

func bindingPK(owner, ident string) string {
	return "I#" + url.PathEscape(owner) + "#" + url.PathEscape(ident)
}

func partSK(k int) string { return fmt.Sprintf("P#%05d", k) }

// checkKey refuses a key DynamoDB would refuse.
func checkKey(pk string) error {
	if len(pk) > maxPartitionKey {
		return refusal("ValidationException", "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of %d bytes", maxPartitionKey)
	}
	return nil
}
