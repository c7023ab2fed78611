// Package sharpspring holds crmsync's SharpSpring sources, both
// pipeline.Source pollers:
//
//   - LeadPoller publishes changed leads from getLeadsDateRange
//     (timestamp "update", v1.2/UTC by default) window by window, and
//     finds deactivated and deleted leads with a periodic full sweep.
//   - ClientPoller publishes created, changed and removed agency clients by
//     diffing getClients snapshots (SharpSpring has no date range for
//     clients).
//
// Both keep their whole state in their source cursor (JSON) and save it only
// after every event of a window or snapshot was published, so a poller
// stopped at any point and started again publishes every change exactly once
// in effect: what was published before the stop is published again with the
// same deterministic event id, and the bus drops it.
//
// Events carry SharpSpring's own field names (vendor "sharpspring", entity
// "lead" or "client", external id the SharpSpring id), values HTML-unescaped.
package sharpspring
