// Package api is the daemon's local HTTP API and its client, which the CLI
// uses to drive a running daemon.
//
// # Endpoints
//
// The listener is on loopback only, and a request whose Host is not
// localhost or a loopback address is refused (403), so a web page cannot
// reach the API through DNS rebinding. Everything under /api/v1/ needs the API
// key (a random token in <home>/api.key), sent as "Authorization: Bearer
// <key>" or "X-API-Key: <key>"; a missing or wrong key is 401. Bodies are
// JSON; errors are {"error": "..."} with a status that says who is at
// fault (4xx the caller, 5xx the node).
//
//	GET    /api/v1/status            Status: peer ID, addresses, reachability and NAT traversal, uptime, version
//	GET    /api/v1/channels          []Channel: joined and broadcast channels with buffer and mesh state
//	POST   /api/v1/channels          {"channel": "/channel/<cid>", "timeout": "60s"} joins; 201 Channel (200 if already joined)
//	GET    /api/v1/channels/{cid}    Channel
//	DELETE /api/v1/channels/{cid}    leaves; 204
//	GET    /api/v1/peers             []Peer
//
// Without the key, because players and scrapers cannot send one:
//
//	GET /healthz                     200 "ok" while the node runs
//	GET /metrics                     Prometheus text format
//	GET /channel/<cid>.ts            the channel's MPEG-TS stream (joined channels only)
//
// The client finds a daemon through the api file in its home (see package
// home), like Kubo's.
//
// # Goroutines
//
// None of its own: handlers run on the caller's http.Server. A join runs
// in the request's goroutine, bounded by its timeout.
package api
