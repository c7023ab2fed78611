package simkit

// PositiveOr returns v when it is above zero, else def: the default of a
// simulator option, a limit or a duration, that its zero value (or any
// value below one) leaves unset. It is cmp.Or for options where a negative
// value means nothing either.
func PositiveOr[T ~int | ~int64 | ~float64](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}
