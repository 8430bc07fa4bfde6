package files

import (
	"encoding/binary"
	"fmt"
)

// Frame types, beside the engine's (mmls frames 1 to 3).
const (
	FrameRequest = 4
	FrameData    = 5
)

// What a request asks for.
const (
	WhatChunk = 0
	WhatPage  = 1
)

// Status of a data frame.
const (
	StatusData    = 0
	StatusMissing = 1
	StatusRefused = 2
	StatusBusy    = 3
)

// Request asks a holder for chunk Index (or manifest page Index) of file ID.
type Request struct {
	ID    ID
	What  uint8
	Index uint32
}

// Frame encodes r as a transport payload.
func (r Request) Frame() []byte {
	b := append([]byte{FrameRequest}, r.ID[:]...)
	b = append(b, r.What)
	return binary.BigEndian.AppendUint32(b, r.Index)
}

// Data answers a Request.
type Data struct {
	Request
	Status uint8
	Bytes  []byte
}

// Frame encodes d as a transport payload.
func (d Data) Frame() []byte {
	b := make([]byte, 0, 1+16+1+4+1+len(d.Bytes))
	b = append(b, FrameData)
	b = append(b, d.ID[:]...)
	b = append(b, d.What)
	b = binary.BigEndian.AppendUint32(b, d.Index)
	b = append(b, d.Status)
	return append(b, d.Bytes...)
}

// maxData bounds what a data frame carries: a sealed chunk or a page.
const maxData = max(MaxChunk+Overhead, PageHashes*32)

// ParseRequest decodes the body of a request frame (after its type).
func ParseRequest(b []byte) (Request, error) {
	var r Request
	if len(b) != 16+1+4 || b[16] > WhatPage {
		return r, fmt.Errorf("%w: request of %d bytes", ErrMalformed, len(b))
	}
	copy(r.ID[:], b)
	r.What = b[16]
	r.Index = binary.BigEndian.Uint32(b[17:])
	return r, nil
}

// ParseData decodes the body of a data frame (after its type). Bytes
// aliases b.
func ParseData(b []byte) (Data, error) {
	var d Data
	if len(b) < 16+1+4+1 || b[16] > WhatPage || b[21] > StatusBusy || len(b)-22 > maxData {
		return d, fmt.Errorf("%w: data frame of %d bytes", ErrMalformed, len(b))
	}
	copy(d.ID[:], b)
	d.What = b[16]
	d.Index = binary.BigEndian.Uint32(b[17:])
	d.Status = b[21]
	d.Bytes = b[22:]
	if d.Status != StatusData && len(d.Bytes) > 0 {
		return d, fmt.Errorf("%w: status %d with %d bytes", ErrMalformed, d.Status, len(d.Bytes))
	}
	return d, nil
}
