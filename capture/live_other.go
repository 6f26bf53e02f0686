//go:build !linux

package capture

import (
	"context"
	"errors"
)

func live(ctx context.Context, iface string, h Handler, opts Options) (Stats, error) {
	return Stats{}, errors.New("capture: live capture needs Linux (AF_PACKET); on this system record with tcpdump -w and decode the file")
}
