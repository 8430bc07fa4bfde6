package files

import (
	"fmt"

	"golang.org/x/crypto/cryptobyte"

	"github.com/mmls-chat/mmls-chat/mmls/frame"
)

// A request and its answer travel as frame.FileRequest and frame.FileData
// (the one table of frame kinds is mmls/frame); the engine splits a
// payload and calls ParseRequest or ParseData on its body, once.

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
	b := cryptobyte.NewBuilder(make([]byte, 0, 1+requestSize))
	b.AddUint8(uint8(frame.FileRequest))
	r.add(b)
	return b.BytesOrPanic() // no length prefixes: it cannot fail
}

// requestSize is a request's body: id, what, index.
const requestSize = 16 + 1 + 4

func (r Request) add(b *cryptobyte.Builder) {
	b.AddBytes(r.ID[:])
	b.AddUint8(r.What)
	b.AddUint32(r.Index)
}

func (r *Request) read(s *cryptobyte.String) bool {
	return s.CopyBytes(r.ID[:]) && s.ReadUint8(&r.What) && r.What <= WhatPage && s.ReadUint32(&r.Index)
}

// Data answers a Request.
type Data struct {
	Request
	Status uint8
	Bytes  []byte
}

// Frame encodes d as a transport payload.
func (d Data) Frame() []byte {
	b := cryptobyte.NewBuilder(make([]byte, 0, 1+requestSize+1+len(d.Bytes)))
	b.AddUint8(uint8(frame.FileData))
	d.Request.add(b)
	b.AddUint8(d.Status)
	b.AddBytes(d.Bytes)
	return b.BytesOrPanic() // no length prefixes: it cannot fail
}

// maxData bounds what a data frame carries: a sealed chunk or a page.
const maxData = max(MaxChunk+Overhead, PageHashes*32)

// ParseRequest decodes the body of a request frame (after its kind).
func ParseRequest(body []byte) (Request, error) {
	var r Request
	s := cryptobyte.String(body)
	if !r.read(&s) || !s.Empty() {
		return Request{}, fmt.Errorf("%w: request of %d bytes", ErrMalformed, len(body))
	}
	return r, nil
}

// ParseData decodes the body of a data frame (after its kind). Bytes
// aliases body.
func ParseData(body []byte) (Data, error) {
	var d Data
	s := cryptobyte.String(body)
	if !d.Request.read(&s) || !s.ReadUint8(&d.Status) || d.Status > StatusBusy || len(s) > maxData {
		return Data{}, fmt.Errorf("%w: data frame of %d bytes", ErrMalformed, len(body))
	}
	d.Bytes = s
	if d.Status != StatusData && len(d.Bytes) > 0 {
		return Data{}, fmt.Errorf("%w: status %d with %d bytes", ErrMalformed, d.Status, len(d.Bytes))
	}
	return d, nil
}
