package mirrors

import "net/http"

// freshTransport returns a copy of t that opens a connection of its own for
// every request and closes it afterwards. Hedges to the same mirror and
// retries of a rejected body go through it.
//
// Sending a request again on t would not do: over HTTP/2 it is multiplexed
// on the connection the first request is stuck on (the transport reuses a
// live HTTP/2 connection even for a request marked Close), and over
// HTTP/1.1 it may get the idle connection a bad body just came on. With
// DisableKeepAlives, an HTTP/1.1 request never takes an idle connection,
// and an HTTP/2 connection serves one request only, so no request of this
// transport shares a connection with any other.
func freshTransport(t *http.Transport) *http.Transport {
	fresh := t.Clone()
	fresh.DisableKeepAlives = true
	return fresh
}
