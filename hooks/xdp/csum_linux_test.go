//go:build linux

package xdp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// udpFrame returns an Ethernet/IPv4/UDP frame with payload whose UDP
// checksum field holds the pseudo-header's folded sum, as a stack using
// checksum offload leaves it, and that sum.
func udpFrame(payload []byte) []byte {
	f := make([]byte, 42+len(payload))
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:34]
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(payload)))
	copy(ip[12:], []byte{10, 231, 0, 1, 10, 231, 0, 2})
	u := f[34:]
	binary.BigEndian.PutUint16(u[0:], 40000)
	binary.BigEndian.PutUint16(u[2:], 9000)
	binary.BigEndian.PutUint16(u[4:], uint16(8+len(payload)))
	copy(u[8:], payload)
	pseudo := csumAdd(0, ip[12:20]) + 17 + uint32(8+len(payload))
	binary.BigEndian.PutUint16(u[6:], csumFold(pseudo))
	return f
}

// udpValid checks a UDP checksum as a receiver does: the sum over the
// pseudo-header and the datagram folds to 0xffff.
func udpValid(f []byte) bool {
	u := f[34:]
	sum := csumAdd(0, f[26:34]) + 17 + uint32(len(u))
	return csumFold(csumAdd(sum, u)) == 0xffff
}

func TestCompleteFrame(t *testing.T) {
	vnet := func(flags, gso uint8, start, off uint16) []byte {
		h := make([]byte, vnetHdrLen)
		h[0], h[1] = flags, gso
		binary.NativeEndian.PutUint16(h[6:], start)
		binary.NativeEndian.PutUint16(h[8:], off)
		return h
	}
	for _, tc := range []struct {
		name    string
		payload []byte
		hdr     []byte
		err     error
		valid   bool // the UDP checksum is right afterwards
		same    bool // the frame is unchanged
	}{
		{"partial, even payload", []byte("payload!"), vnet(vnetNeedsCsum, 0, 34, 6), nil, true, false},
		{"partial, odd payload", []byte("odd"), vnet(vnetNeedsCsum, 0, 34, 6), nil, true, false},
		{"partial, empty", nil, vnet(vnetNeedsCsum, 0, 34, 6), nil, true, false},
		{"complete already: left alone", []byte("x"), vnet(0, 0, 0, 0), nil, false, true},
		{"offset past the end: left alone", []byte("x"), vnet(vnetNeedsCsum, 0, 34, 200), nil, false, true},
		{"GSO", []byte("x"), vnet(vnetNeedsCsum, 1, 34, 6), errOversize, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := udpFrame(tc.payload)
			orig := bytes.Clone(f)
			got, err := completeFrame(tc.hdr, f)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if udpValid(got) != tc.valid {
				t.Errorf("checksum valid %v, want %v", udpValid(got), tc.valid)
			}
			if bytes.Equal(got, orig) != tc.same {
				t.Errorf("frame unchanged %v, want %v", bytes.Equal(got, orig), tc.same)
			}
		})
	}
}
