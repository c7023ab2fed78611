package simkit

import (
	"math"
	"slices"
	"time"
)

// TimeIndex lists record keys by the UTC second of a time kept per record
// (an update or creation time), so that a list filtered on a time range
// reads the records in that range instead of every record: pollers ask
// that of an account of any size on every poll. It only narrows the
// candidates; a simulator still evaluates every filter on each of them, so
// its answers are the same as a full scan's. Set, Remove and Between cost
// O(log s) plus what they return or move, s being the number of distinct
// seconds held. The zero value is not usable: use NewTimeIndex. Not safe
// for concurrent use (simulators hold their own lock).
type TimeIndex[K comparable] struct {
	at   map[K]int64              // key → second
	keys map[int64]map[K]struct{} // second → keys
	secs []int64                  // seconds that hold keys, ascending
}

// NewTimeIndex returns an empty index.
func NewTimeIndex[K comparable]() *TimeIndex[K] {
	return &TimeIndex[K]{at: map[K]int64{}, keys: map[int64]map[K]struct{}{}}
}

// Len is the number of keys held.
func (x *TimeIndex[K]) Len() int { return len(x.at) }

// Set records key at t, replacing its earlier time.
func (x *TimeIndex[K]) Set(key K, t time.Time) {
	sec := t.Unix()
	if old, ok := x.at[key]; ok {
		if old == sec {
			return
		}
		x.Remove(key)
	}
	x.at[key] = sec
	b := x.keys[sec]
	if b == nil {
		b = map[K]struct{}{}
		x.keys[sec] = b
		if n := len(x.secs); n == 0 || x.secs[n-1] < sec {
			x.secs = append(x.secs, sec) // the usual case: a record changed now
		} else {
			i, _ := slices.BinarySearch(x.secs, sec)
			x.secs = slices.Insert(x.secs, i, sec)
		}
	}
	b[key] = struct{}{}
}

// Remove forgets key.
func (x *TimeIndex[K]) Remove(key K) {
	sec, ok := x.at[key]
	if !ok {
		return
	}
	delete(x.at, key)
	b := x.keys[sec]
	delete(b, key)
	if len(b) == 0 {
		delete(x.keys, sec)
		if i, found := slices.BinarySearch(x.secs, sec); found {
			x.secs = slices.Delete(x.secs, i, i+1)
		}
	}
}

// Between returns, in no particular order, the keys whose second lies in
// [from, to], both bounds truncated to the second.
func (x *TimeIndex[K]) Between(from, to time.Time) []K {
	return x.between(from.Unix(), to.Unix())
}

// Since returns, in no particular order, the keys whose second is from's
// or later.
func (x *TimeIndex[K]) Since(from time.Time) []K {
	return x.between(from.Unix(), math.MaxInt64)
}

func (x *TimeIndex[K]) between(from, to int64) []K {
	i, _ := slices.BinarySearch(x.secs, from)
	var out []K
	for _, sec := range x.secs[i:] {
		if sec > to {
			break
		}
		for k := range x.keys[sec] {
			out = append(out, k)
		}
	}
	return out
}
