// Package compact is the stored form of the state's bulkiest values: the
// write ledger's field stamps and the hex ids and hashes that every identity,
// ledger entry and delivery receipt carries. Every encoding here is lossless
// (what is decoded equals what was encoded) so the state answers exactly what
// it was given; it is only shorter than JSON and hex text.
package compact

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/crmsync/crmsync/pipeline"
)

// ---- ids and hashes ----

// Tags of a packed id (the first byte of the BLOB).
const (
	tagHex       = 0x00 // lower-case hex of even length: its bytes
	tagCanonical = 0x01 // "c" + lower-case hex of even length (pipeline.CanonicalID)
	tagPrefixed  = 0x02 // prefix + "-" + lower-case hex, when the prefix is the one the caller names (event ids)
)

// ID is the stored form of an id or hash: a BLOB of its bytes when it is
// lower-case hex (a content or value hash, 16 bytes instead of 32
// characters), "c" and hex (a canonical id) or prefix + hex (an event id of
// the record's own vendor and entity, see Prefixed); the string itself
// (TEXT) otherwise. SQLite never finds a BLOB equal to a TEXT, so the two
// forms never collide and the mapping stays one to one.
func ID(s string) any { return Prefixed("", s) }

// Prefixed is ID for ids that usually start with prefix (e.g.
// "leadexec-lead-"): the prefix is left out of the stored form. Read it
// back with ParsePrefixed and the same prefix.
func Prefixed(prefix, s string) any {
	switch {
	case isHex(s):
		return packHex(tagHex, s)
	case len(s) > 1 && s[0] == 'c' && isHex(s[1:]):
		return packHex(tagCanonical, s[1:])
	case prefix != "" && strings.HasPrefix(s, prefix) && isHex(s[len(prefix):]):
		return packHex(tagPrefixed, s[len(prefix):])
	}
	return s
}

// packHex is tag followed by the bytes of h, which isHex accepted, in one
// allocation: every id the state writes goes through here.
func packHex(tag byte, h string) []byte {
	b := make([]byte, 1+len(h)/2)
	b[0] = tag
	for i := 1; i < len(b); i++ {
		b[i] = unhex(h[2*i-2])<<4 | unhex(h[2*i-1])
	}
	return b
}

// unhex is the value of a lower-case hex digit.
func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}

// ParseID reads back what ID stored (a string, or a BLOB as []byte).
func ParseID(v any) (string, error) { return ParsePrefixed("", v) }

// ParsePrefixed reads back what Prefixed(prefix, …) stored.
func ParsePrefixed(prefix string, v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case []byte:
		if len(v) < 2 {
			return "", fmt.Errorf("packed id of %d bytes", len(v))
		}
		switch v[0] {
		case tagHex:
			return unpackHex("", v[1:]), nil
		case tagCanonical:
			return unpackHex("c", v[1:]), nil
		case tagPrefixed:
			return unpackHex(prefix, v[1:]), nil
		}
		return "", fmt.Errorf("packed id with unknown tag %#x", v[0])
	case nil:
		return "", errors.New("id is NULL")
	}
	return "", fmt.Errorf("id of type %T", v)
}

// unpackHex is prefix followed by the lower-case hex of b, in one
// allocation.
func unpackHex(prefix string, b []byte) string {
	const digits = "0123456789abcdef"
	var s strings.Builder
	s.Grow(len(prefix) + 2*len(b))
	s.WriteString(prefix)
	for _, c := range b {
		s.WriteByte(digits[c>>4])
		s.WriteByte(digits[c&0x0f])
	}
	return s.String()
}

// isHex reports whether s is non-empty lower-case hex of even length (upper
// case would not survive the round trip).
func isHex(s string) bool {
	if s == "" || len(s)%2 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ---- times ----

// Nanos is the stored form of a state-set time: Unix nanoseconds (8 bytes
// as an SQLite INTEGER, where RFC 3339 text took 30), 0 for the zero time.
func Nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// FromNanos reads back what Nanos stored, in UTC.
func FromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// ---- ledger field stamps ----

// ledgerVersion is the first byte of an encoded field set.
const ledgerVersion = 1

// Flags of one field.
const (
	hasAt = 1 << iota
	hasSeen
	hasPending
	hasSent
	hasPrev
	hasWrote
	hasWroteAt
)

// Fields encodes a ledger entry's field stamps. Layout (varints as in
// encoding/binary):
//
//	version byte (1), uvarint field count, then per field in name order:
//	  uvarint name length, name,
//	  flags byte (which of At, Seen, Pending, Sent, Prev, Wrote, WroteAt
//	    are set),
//	  hash (see hash below),
//	  each set time of At, Seen, Pending, Sent, WroteAt (see time below),
//	  Prev as a hash when set,
//	  Wrote when set: uvarint count, then per value "<vendor>:<hash>" a
//	    uvarint ref<<1|same, where ref is 1+index into the vendors already
//	    seen in this encoding or 0 for a new one (then its length-prefixed
//	    name follows), and same says the hash equals the field's Hash (else
//	    the hash follows). A value without ":" has ref count+1, same 0, and
//	    the whole value follows, length-prefixed.
//
// A hash is uvarint n<<1|1 and n raw bytes when it is lower-case hex of even
// length, uvarint n<<1 and n bytes of text otherwise ("" is one 0 byte).
// A time is relative to the previous time in the encoding (the first to the
// Unix epoch): zigzag varint of the seconds' difference shifted left once,
// its low bit set when the nanoseconds differ from the previous time's, then
// the nanoseconds as uvarint. The stamps of one write share a time, so every
// time after the first is one byte.
func Fields(fields map[string]pipeline.FieldStamp) []byte {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	slices.Sort(names)
	e := encoder{b: make([]byte, 0, 16+40*len(fields))}
	e.b = append(e.b, ledgerVersion)
	e.uvarint(uint64(len(names)))
	for _, n := range names {
		f := fields[n]
		e.str(n)
		var flags byte
		for _, x := range []struct {
			set  bool
			flag byte
		}{{!f.At.IsZero(), hasAt}, {!f.Seen.IsZero(), hasSeen}, {!f.Pending.IsZero(), hasPending},
			{!f.Sent.IsZero(), hasSent}, {f.Prev != "", hasPrev}, {len(f.Wrote) > 0, hasWrote},
			{!f.WroteAt.IsZero(), hasWroteAt}} {
			if x.set {
				flags |= x.flag
			}
		}
		e.b = append(e.b, flags)
		e.hash(f.Hash)
		for _, t := range []time.Time{f.At, f.Seen, f.Pending, f.Sent, f.WroteAt} {
			if !t.IsZero() {
				e.time(t)
			}
		}
		if f.Prev != "" {
			e.hash(f.Prev)
		}
		if len(f.Wrote) > 0 {
			e.uvarint(uint64(len(f.Wrote)))
			for _, w := range f.Wrote {
				vendor, h, ok := strings.Cut(w, ":")
				if !ok {
					e.uvarint(uint64(len(e.vendors)+1) << 1)
					e.str(w)
					continue
				}
				var same uint64
				if h == f.Hash {
					same = 1
				}
				if i := slices.Index(e.vendors, vendor); i >= 0 {
					e.uvarint(uint64(i+1)<<1 | same)
				} else {
					e.uvarint(same)
					e.str(vendor)
					e.vendors = append(e.vendors, vendor)
				}
				if same == 0 {
					e.hash(h)
				}
			}
		}
	}
	return e.b
}

// ParseFields decodes what Fields encoded. It accepts only what Fields
// produces (anything else is a damaged file), so what it returns encodes
// back to the same bytes.
func ParseFields(b []byte) (map[string]pipeline.FieldStamp, error) {
	d := decoder{b: b}
	if v := d.byte(); v != ledgerVersion {
		if d.err != nil {
			return nil, d.err
		}
		return nil, fmt.Errorf("field stamps of unknown version %d", v)
	}
	n := d.uvarint()
	if n > uint64(len(b)) {
		return nil, errors.New("field stamps: count past the end")
	}
	out := make(map[string]pipeline.FieldStamp, n)
	prevName := ""
	for i := uint64(0); i < n && d.err == nil; i++ {
		name := d.str()
		if i > 0 && name <= prevName {
			d.fail("field %q out of order", name)
		}
		prevName = name
		flags := d.byte()
		if flags&^(hasAt|hasSeen|hasPending|hasSent|hasPrev|hasWrote|hasWroteAt) != 0 {
			d.fail("field %q: unknown flags %#x", name, flags)
		}
		var f pipeline.FieldStamp
		f.Hash = d.hash()
		for _, x := range []struct {
			flag byte
			t    *time.Time
		}{{hasAt, &f.At}, {hasSeen, &f.Seen}, {hasPending, &f.Pending}, {hasSent, &f.Sent}, {hasWroteAt, &f.WroteAt}} {
			if flags&x.flag != 0 {
				*x.t = d.time()
			}
		}
		if flags&hasPrev != 0 {
			if f.Prev = d.hash(); f.Prev == "" {
				d.fail("field %q: empty previous hash", name)
			}
		}
		if flags&hasWrote != 0 {
			m := d.uvarint()
			if m == 0 || m > uint64(len(b)) {
				return nil, errors.New("field stamps: written values past the end")
			}
			f.Wrote = make([]string, 0, m)
			for j := uint64(0); j < m && d.err == nil; j++ {
				u := d.uvarint()
				vi, same := u>>1, u&1 == 1
				var vendor string
				switch {
				case vi == 0:
					vendor = d.str()
					if strings.Contains(vendor, ":") || slices.Contains(d.vendors, vendor) {
						d.fail("written value's vendor %q", vendor)
					}
					d.vendors = append(d.vendors, vendor)
				case vi <= uint64(len(d.vendors)):
					vendor = d.vendors[vi-1]
				case vi == uint64(len(d.vendors))+1 && !same:
					w := d.str()
					if strings.Contains(w, ":") {
						d.fail("written value %q", w)
					}
					f.Wrote = append(f.Wrote, w)
					continue
				default:
					d.fail("written value's vendor %d of %d", vi, len(d.vendors))
					continue
				}
				h := f.Hash
				if !same {
					if h = d.hash(); h == f.Hash {
						d.fail("written value's hash repeats the field's")
					}
				}
				f.Wrote = append(f.Wrote, vendor+":"+h)
			}
		}
		out[name] = f
	}
	if d.err != nil {
		return nil, fmt.Errorf("field stamps: %w", d.err)
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("field stamps: %d bytes past the end", len(d.b))
	}
	return out, nil
}

type encoder struct {
	b       []byte
	vendors []string
	sec     int64
	nsec    int64
}

func (e *encoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }

func (e *encoder) str(s string) {
	e.uvarint(uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *encoder) hash(s string) {
	if isHex(s) {
		e.uvarint(uint64(len(s)/2)<<1 | 1)
		e.b, _ = hex.AppendDecode(e.b, []byte(s))
		return
	}
	e.uvarint(uint64(len(s)) << 1)
	e.b = append(e.b, s...)
}

func (e *encoder) time(t time.Time) {
	sec, nsec := t.Unix(), int64(t.Nanosecond())
	d := uint64(zigzag(sec-e.sec)) << 1
	if nsec != e.nsec {
		d |= 1
	}
	e.uvarint(d)
	if nsec != e.nsec {
		e.uvarint(uint64(nsec))
	}
	e.sec, e.nsec = sec, nsec
}

func zigzag(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

type decoder struct {
	b       []byte
	err     error
	vendors []string
	sec     int64
	nsec    int64
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format, args...)
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(n uint64) []byte {
	if n > uint64(len(d.b)) {
		d.fail("truncated")
		return nil
	}
	b := d.b[:n]
	d.b = d.b[n:]
	return b
}

func (d *decoder) str() string { return string(d.bytes(d.uvarint())) }

func (d *decoder) hash() string {
	h := d.uvarint()
	b := d.bytes(h >> 1)
	if h&1 == 0 {
		if isHex(string(b)) {
			d.fail("hex hash %q stored as text", b)
		}
		return string(b)
	}
	if len(b) == 0 {
		d.fail("empty hex hash")
	}
	return hex.EncodeToString(b)
}

func (d *decoder) time() time.Time {
	u := d.uvarint()
	d.sec += unzigzag(u >> 1)
	if u&1 != 0 {
		n := int64(d.uvarint())
		if n >= 1e9 || n == d.nsec {
			d.fail("nanoseconds %d", n)
		}
		d.nsec = n
	}
	t := time.Unix(d.sec, d.nsec).UTC()
	if t.IsZero() {
		d.fail("zero time stored")
	}
	return t
}
