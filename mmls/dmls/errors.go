package dmls

import (
	"errors"
	"fmt"

	"github.com/mmls-chat/mmls-chat/mmls/mlsguard"
)

// Errors the engine acts on; match them with errors.Is. Errors from the MLS
// boundary are mapped onto these by [classify].
var (
	ErrMalformed    = errors.New("dmls: malformed message")
	ErrTooLarge     = errors.New("dmls: message too large")
	ErrVersion      = errors.New("dmls: unsupported version")
	ErrNotOwner     = errors.New("dmls: not from the group owner")
	ErrUnknownGroup = errors.New("dmls: unknown group")
	ErrWrongRoom    = errors.New("dmls: message for another room")
	ErrEpochAhead   = errors.New("dmls: epoch too far ahead")
	ErrEpochOld     = errors.New("dmls: epoch no longer kept")
	ErrReplay       = errors.New("dmls: replayed message")
	ErrRemoved      = errors.New("dmls: removed from the group")
	ErrRoomFull     = errors.New("dmls: room is full")
	ErrAuth         = errors.New("dmls: authentication failed")
	ErrForged       = errors.New("dmls: forged welcome")
	ErrKicked       = errors.New("dmls: peer was removed from this room")
	ErrNotMember    = errors.New("dmls: not a member")
	ErrBuffered     = errors.New("dmls: buffered until its commit arrives")
	ErrDuplicate    = errors.New("dmls: already applied")
	ErrInternal     = errors.New("dmls: internal error")
	ErrNotForUs     = errors.New("dmls: message not addressed to us")
	ErrStaleWelcome = errors.New("dmls: welcome for a key package we no longer hold")
	ErrRateLimited  = errors.New("dmls: too many requests from this peer")
	ErrNotVouched   = errors.New("dmls: nobody in this private room vouched for this peer yet")
	ErrNoEvidence   = errors.New("dmls: a reported commit that does not check out")
)

// classify wraps a boundary error with the matching dmls sentinel, keeping
// the original in the chain.
func classify(err error) error {
	if err == nil {
		return nil
	}
	pairs := []struct{ from, to error }{
		{mlsguard.ErrNotOwner, ErrNotOwner},
		{mlsguard.ErrWrongGroup, ErrUnknownGroup},
		{mlsguard.ErrReplay, ErrReplay},
		{mlsguard.ErrTooFarAhead, ErrMalformed},
		{mlsguard.ErrWrongEpoch, ErrMalformed},
		{mlsguard.ErrForgedWelcome, ErrForged},
		{mlsguard.ErrRoomFull, ErrRoomFull},
		{mlsguard.ErrRemoved, ErrRemoved},
		{mlsguard.ErrAuth, ErrAuth},
		{mlsguard.ErrBadProposal, ErrAuth},
		{mlsguard.ErrPending, ErrRateLimited},
		{mlsguard.ErrMalformed, ErrMalformed},
		{mlsguard.ErrLibrary, ErrMalformed},
		{mlsguard.ErrNoKeyPackage, ErrMalformed},
	}
	for _, p := range pairs {
		if errors.Is(err, p.from) {
			return fmt.Errorf("%w: %w", p.to, err)
		}
	}
	return fmt.Errorf("%w: %w", ErrInternal, err)
}
