// Package admin is the daemon's local admin API, served over a unix socket so
// that only root and the socket's group can use it, and the client the CLI
// commands (status, ping, get) use to talk to it.
//
// Endpoints (all JSON except healthz):
//
//	GET  /v1/healthz       "ok" when the daemon serves the API
//	GET  /v1/status        the latest probe results (Report)
//	POST /v1/status/probe  probe every path now and answer with the results (Report)
//	GET  /v1/info          version, uptime, node count, health endpoint, last cycle (Info)
package admin
