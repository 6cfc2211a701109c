// Package mirrors fetches module protocol files (.info, .mod, .zip) from
// GOPROXY mirrors, choosing among them as it goes.
//
// # Candidates
//
// The mirrors come from GOPROXY, as goenv.ParseProxy reads it for [New],
// plus [Options.Extra]. When GOPROXY is the go command's default
// ("https://proxy.golang.org,direct") or names only well-known public
// mirrors, a built-in list of public mirrors (proxy.golang.org, goproxy.cn,
// goproxy.io, mirrors.aliyun.com/goproxy) stands behind them as the rescue
// group, unless [Options.NoBuiltin]: asked only when GOPROXY's mirrors
// cannot serve a file. A GOPROXY that names anything else, such as a
// company proxy, is used exactly as written: no public mirror is added.
//
// # Who may see a module path
//
// The go command moves past a ',' in GOPROXY only when the file was not
// found (404 or 410), on purpose (golang.org/issue/26334): a company
// proxy's 5xx for a path must not send the path on to a public proxy. gomodx
// keeps that promise while it reorders, races and hedges:
//
//   - The walk is cut into groups of interchangeable mirrors: a run of
//     GOPROXY entries joined by '|', with the extra mirrors added to the
//     first run. "direct" and "off" are groups of their own and keep their
//     meaning.
//   - Within a group, any order is one GOPROXY allows, so gomodx picks the
//     order: probe ranking, then the live scoreboard. It may retry a mirror
//     as much as the [retry.Policy] allows, hedge a slow request to the next
//     mirror of the group, and move on to the next mirror of the group after
//     any failure.
//   - A group never sends a path to a mirror of another group. The walk
//     moves past a group ending in '|' after any failure, and past one
//     ending in ',' only when the file was not found: every mirror of the
//     group named by GOPROXY that was asked said 404 or 410, and none of them
//     failed otherwise or was set aside. (Extra mirrors can only help: their
//     failures do not keep the walk from moving on, as GOPROXY without them
//     would have. A group with no GOPROXY mirror is not found when every
//     mirror asked said so.) This is stricter than the go command, whose
//     verdict for a run is that of whichever mirror came last, and it does
//     not depend on the order gomodx chose.
//   - Only where the walk would stop on a failure, where the go command
//     would fail, does the rescue group come in: the built-in mirrors are
//     asked as one more group, interchangeable among themselves. A
//     not-found never leads there, and a file they cannot serve fails with
//     GOPROXY's own error. The first time, an [Event] of kind Rescued
//     announces the switch, before a built-in mirror sees a path. Until
//     then the built-in mirrors get nothing, not even a probe.
//
// # Ranking and the scoreboard
//
// A group of more than one mirror (or a single one with the rescue group
// behind it, whose probe can send its files to the rescue at once) is
// probed once, all mirrors at once, with
// a short deadline ([Options.ProbeTimeout]): a GET of
// <mirror>/sumdb/sum.golang.org/supported, timed with net/http/httptrace.
// Any HTTP answer counts as reachable. Mirrors are ranked by reachability,
// then time to first byte, in bands (under 100 ms, then steps of √2) so that
// noise does not reorder GOPROXY; within a band the configured order wins.
// Fetching waits for the probes only until no mirror still silent could
// rank first (twice the first answer's time, plus 100 ms); later answers
// still count. The ranking is cached on disk for [Options.RankTTL] (default 10 minutes),
// keyed by the group's mirrors, so the next run starts fetching at once;
// it is probed again when stale, or in the background when a mirror ranked
// from the cache fails. The cache also remembers which mirrors the probe
// set aside (below), and a run ranked from it sets them aside too: an
// unreachable mirror costs one failed probe per cache lifetime, not a
// request per file. A single mirror is never probed: there is nothing
// to choose.
//
// During a run, each mirror keeps moving averages of its time to response
// headers, its throughput and its failures. A request goes to the mirror of
// its group with the least expected time: latency, plus a penalty for
// recent failures, plus, once the mirror's throughput is known, the time to
// receive what is already queued on it and this file. That spreads zips over
// several good mirrors when one of them is the bottleneck, and keeps small
// requests on the fastest. A mirror that fails three requests in a row (each
// after its retries) is set aside for 30 seconds (circuit breaker), then
// tried again, and set aside again at its next failure (a body that breaks
// mid-way only demotes the mirror: on a lossy link, retrying the file is
// what gets it through); one that is
// unreachable (no such host, connection refused, TLS handshake timeout) or
// presents an untrusted certificate is set aside for the run. When every
// mirror of a group is set aside, the group fails at once instead of
// waiting. A mirror that is the only one left for a file whose retries all
// failed on transient errors gets a second round of retries if it is
// healthy (it delivered files in this run and most of its recent requests
// succeeded): from a mirror failing one request in ten, four failures in a
// row are bad luck, not a verdict.
//
// # Bytes that do not verify
//
// A body that store rejects (a [Rejection]) from a mirror that serves good
// bytes most of the time is most often damaged on the way: a file cut
// short but passed off as whole, one bad server behind a load balancer.
// The file is asked for again, from the group's other mirrors first, else
// from the same mirror on a new connection, within the same retry budget as
// a body that breaks. The mirror is a liar when it serves the same rejected
// bytes twice (a tampered or stale file: the file fails at once with the
// rejection), when its bytes for a file keep failing until the retries run
// out, or when it is a liar already; a liar is not asked again in the run
// while its group has another mirror. Nothing store rejects is ever kept.
//
// # Hedging
//
// When a request has waited for its response headers longer than the
// mirror usually takes (3× its average, at least [Options.HedgeAfter]), the
// same request is sent again: to the next mirror of the group, or, when
// there is none, to the same mirror on a new connection, since a request
// that hangs is most often one stuck connection or one stuck server behind
// the mirror, not the mirror. The first to answer wins and the others are
// cancelled.
//
// A request whose attempt fails (a 5xx, a reset, a refused connection, a
// body that breaks) is sent to the group's next mirror at once, a failover
// without waiting for the retries: the failing mirror is asked again by its
// own retry, after the backoff, unless the next mirror answers first. At
// a single mirror, or the last one left, that retry goes at once instead
// (after a body that broke or was rejected, on a new connection), within
// the mirror's hedge budget and never after a 429: one failure is most
// often one bad server behind the mirror, or one bad connection. At most
// three requests for a file are in flight, only the winner's body is
// handed to store, and each mirror has a hedge budget (a ten at once, then
// one for every ten requests), so that a mirror slow for everyone is not
// flooded with hedges.
//
// # Large files
//
// One TCP connection over a long, lossy link carries far less than the
// link can. A zip of [RangeThreshold] or more whose mirror answers
// Accept-Ranges: bytes is fetched in parts over up to eight connections at
// once, when store takes the body with WriteTo into a file (an
// io.WriterAt, as modcache does): the first answer serves the first part,
// each other part is a Range request on a connection of its own, written
// at its offset. A part that breaks is asked for again from the byte where
// it stopped, without counting against the file's retries while bytes
// keep coming; a connection that is done takes half of the largest part
// left, or all of a part silent for twice the hedge delay. The group's
// other mirrors serve parts too, once they are seen to serve a file of the
// same size; bytes from several mirrors that do not verify are fetched
// again from one. A mirror that answers a range with anything but the
// range of the same file (a 200, another size, another ETag) has the file
// fetched again in one stream. A zip from a quarter of [RangeThreshold]
// starts in the first answer's stream alone, and is split the same way
// once fewer than sixteen requests share its mirror and what is left of it
// would still take a second, and eight times the mirror's latency, in that
// stream. store verifies the whole file as it does any other. Progress
// events report the bytes of large files as they come.
//
// # Errors and events
//
// A failed Fetch returns an [*Error] listing every mirror asked; [Classify]
// sorts any failure into a [Class] with a [Class.Hint] for the user, and
// [Explain] says, for one failed request (a probe's, say), what went wrong
// and what to do in more detail: the words every command uses, 'gomodx
// doctor' included. [Options.OnEvent] receives an [Event] for every
// request, retry, failover, hedge, rejected body and completed file.
//
// # Probes
//
// [List.Probe] asks every mirror for the probe path, timing DNS, connect,
// TLS and the first byte, and names the [Stage] where a failure happened;
// with [Options.ProbeSample] it also downloads a small file to measure the
// throughput. Probes go through the List's own transport, with the
// credentials a request would carry, so that a probe's verdict is a
// download's.
package mirrors
