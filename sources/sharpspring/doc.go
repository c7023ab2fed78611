// Package sharpspring holds crmsync's SharpSpring sources, two
// pipeline.Source pollers and a backfill pager:
//
//   - LeadPoller publishes changed leads from getLeadsDateRange
//     (timestamp "update", v1.2/UTC by default) window by window, and
//     finds deactivated and deleted leads with a periodic full sweep.
//   - ClientPoller publishes created, changed and removed agency clients by
//     diffing getClients snapshots (SharpSpring has no date range for
//     clients).
//
// The pollers keep their whole state in their source cursor (JSON) and save
// it only after every event of a snapshot, or of a part of a lead window
// (the cursor then records how far the window is done), was published, so a poller
// stopped at any point and started again publishes every change exactly once
// in effect: what was published before the stop is published again with the
// same deterministic event id, and the bus drops it.
//
// LeadPager is the pipeline.Pager of `crmsync backfill --source
// sharpspring.lead`: it pages through the account's leads by creation time
// (getLeadsDateRange, timestamp "create"), building its events as
// LeadPoller does.
//
// Events carry SharpSpring's own field names (vendor "sharpspring", entity
// "lead" or "client", external id the SharpSpring id), values HTML-unescaped.
package sharpspring
