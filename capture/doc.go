// Package capture decodes SMTP conversations from packet captures.
//
// The lower half (read*.go, packet*.go, stream*.go, live*.go) turns capture
// files (pcap in all its byte orders and resolutions, the modified
// "Kuznetzov" pcap, pcapng, gzip-compressed copies of any of these) or a live
// Linux interface into ordered TCP byte streams: it decodes link, IP and TCP
// headers with gopacket's DecodingLayerParser, reassembles each connection
// with gopacket's reassembly package (both directions in one stream), decides
// which connections are SMTP (looking through an HTTP CONNECT tunnel's
// preamble, see [ConnInfo.Target]), and hands their bytes to a [Handler]. The upper
// half (conv*.go) turns those bytes into transcripts.
//
// Everything read from a file or the network is hostile: no input panics, and
// every buffer has a bound.
package capture
