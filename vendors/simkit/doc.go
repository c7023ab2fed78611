// Package simkit holds the parts every vendor simulator is built from, so
// that each simulator keeps only what is its vendor's own (paths, error
// bodies, codes, limits):
//
//   - Injector, the fault engine: one-shot faults scripted per endpoint,
//     random faults drawn at seeded rates, server-error bursts, latency,
//     requests held until the client gives up, and the count of what was
//     injected; Queue is its per-endpoint script, also usable alone.
//   - Late, the writes of a late-apply fault: held past the client's
//     timeout and applied afterwards, after later writes of the same
//     record or after a delay.
//   - Peaks, which records the most requests of one credential in a UTC
//     second and in any sliding second, and Window, a sliding-window limit.
//   - Server helpers: Reply, HangUp and Abandon, Log (a bounded request
//     log), ResetStats and Serve (a simulator on a loopback port).
//   - Copies and CopyOf, the copies of stored records a simulator hands
//     its tests, and Fill, which stores many records under one lock.
//   - PositiveOr, the default of an option that only a value above zero
//     sets.
//
// Test helpers shared by the simulators' tests are in simtest.
//
// The simulators decide what a fault looks like on the wire; simkit only
// decides which fault a request gets and when.
package simkit
