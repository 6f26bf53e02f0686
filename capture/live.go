package capture

import "context"

// Live decodes the traffic of a network interface until ctx ends (Linux, pure
// Go: an AF_PACKET socket, no libpcap). An empty iface or "any" captures on
// every interface. Without CAP_NET_RAW it returns an error that says root is
// needed. The end of ctx is the normal end: connections still open are ended
// "end of capture" and the error is nil.
func Live(ctx context.Context, iface string, h Handler, opts Options) (Stats, error) {
	return live(ctx, iface, h, opts)
}
