package capture

import (
	"context"
	"errors"
)

// Live decodes the traffic of a network interface until ctx ends (Linux, pure
// Go). Without CAP_NET_RAW it returns an error that says root is needed.
func Live(ctx context.Context, iface string, h Handler, opts Options) (Stats, error) {
	return Stats{}, errors.New("capture: live capture is not implemented yet")
}
