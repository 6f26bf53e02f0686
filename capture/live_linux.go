//go:build linux

package capture

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
)

func live(ctx context.Context, iface string, h Handler, opts Options) (Stats, error) {
	args := []any{afpacket.OptPollTimeout(200 * time.Millisecond), afpacket.OptFrameSize(1 << 16), afpacket.OptBlockSize(1 << 20), afpacket.OptNumBlocks(32)}
	if iface != "" && iface != "any" {
		args = append(args, afpacket.OptInterface(iface))
	}
	tp, err := afpacket.NewTPacket(args...)
	if err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, os.ErrPermission) {
			return Stats{}, fmt.Errorf("capture: live capture on %q needs root (or CAP_NET_RAW): %w", iface, err)
		}
		return Stats{}, fmt.Errorf("capture: live capture on %q: %w", iface, err)
	}
	defer tp.Close()
	d := newDispatcher(h, opts, 0)
	d.stats.Files = 0
	var rerr error
	lastSend := time.Now()
	for ctx.Err() == nil {
		if time.Since(lastSend) > 100*time.Millisecond {
			d.send()
			lastSend = time.Now()
		}
		data, ci, err := tp.ZeroCopyReadPacketData()
		if err != nil {
			if errors.Is(err, afpacket.ErrTimeout) || errors.Is(err, syscall.EINTR) {
				continue
			}
			rerr = fmt.Errorf("capture: reading %q: %w", iface, err)
			break
		}
		if len(data) > maxRecord {
			data = data[:maxRecord]
		}
		d.stats.Bytes += int64(len(data))
		// AF_PACKET sockets of type SOCK_RAW see Ethernet framing on
		// Ethernet and loopback interfaces alike. On loopback each packet
		// is seen leaving and arriving: the reassembler drops the copy as a
		// retransmission.
		d.packet(record{data: data, ts: ci.Timestamp.UnixNano(), origLen: max(ci.Length, len(data)), link: layers.LinkTypeEthernet})
	}
	// Ctrl-C is how a live capture ends: not a cancellation of the work.
	return d.close(context.Background(), rerr)
}
