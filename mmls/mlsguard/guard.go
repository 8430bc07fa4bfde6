package mlsguard

import (
	"errors"
	"fmt"
	"reflect"

	mls "github.com/cisco/go-mls"
	syntax "github.com/cisco/go-tls-syntax"
	"github.com/mmls-chat/mmls-chat/transport/peerid"
)

// Suite is the one cipher suite mmls-chat speaks.
const Suite = mls.X25519_AES128GCM_SHA256_Ed25519

// Limits applied before the library sees any input.
const (
	// MaxMessageSize bounds every encoded MLS object we decode. A Welcome
	// for a full room (MaxLeaves) is about 40 KB; a commit about the same.
	MaxMessageSize = 512 << 10
	// MaxWelcomeSize bounds a Welcome before anything decrypts it: one for
	// a full tree (MaxLeaves members with 64-byte nicks) is about 44 KB.
	MaxWelcomeSize = 64 << 10
	// MaxLeaves bounds the tree, blank leaves included. go-mls fails every
	// path commit once the tree holds more than 128 leaves.
	MaxLeaves = 120
	// MaxSkip bounds how far ahead of the next expected generation an
	// application message may be (each skipped key costs a derivation).
	MaxSkip = 1024
	// MaxNickRunes bounds a nick in characters, MaxNickLen in bytes.
	MaxNickRunes = 32
	MaxNickLen   = 4 * MaxNickRunes
	// SecretSize is the size of every fresh secret the caller supplies.
	SecretSize = 32
)

// Sentinel errors. Every error from this package wraps one of them.
var (
	ErrMalformed     = errors.New("mlsguard: malformed input")
	ErrLibrary       = errors.New("mlsguard: library failure")
	ErrNotOwner      = errors.New("mlsguard: not from the group owner")
	ErrWrongGroup    = errors.New("mlsguard: wrong group")
	ErrWrongEpoch    = errors.New("mlsguard: wrong epoch")
	ErrReplay        = errors.New("mlsguard: replayed or expired generation")
	ErrTooFarAhead   = errors.New("mlsguard: generation too far ahead")
	ErrAuth          = errors.New("mlsguard: authentication failed")
	ErrForgedWelcome = errors.New("mlsguard: welcome not from the expected owner")
	ErrNoKeyPackage  = errors.New("mlsguard: welcome is for none of our key packages")
	ErrRoomFull      = errors.New("mlsguard: group is full")
	ErrRole          = errors.New("mlsguard: operation not allowed in this role")
	ErrRemoved       = errors.New("mlsguard: we were removed from the group")
	ErrBadProposal   = errors.New("mlsguard: proposal rejected")
	ErrPending       = errors.New("mlsguard: this member already has an update pending in this epoch")
)

// safely runs f, turning a panic into an error wrapping ErrLibrary.
func safely(op string, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: panic: %v", ErrLibrary, op, r)
		}
	}()
	return f()
}

// decodeStrict unmarshals data into v, refusing oversize input, trailing
// bytes and any panic inside the decoder.
func decodeStrict(data []byte, v any) error {
	if len(data) == 0 || len(data) > MaxMessageSize {
		return fmt.Errorf("%w: size %d", ErrMalformed, len(data))
	}
	var n int
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("decoder panic: %v", r)
			}
		}()
		n, err = syntax.Unmarshal(data, v)
		return err
	}()
	if err != nil {
		return fmt.Errorf("%w: %T: %v", ErrMalformed, v, err)
	}
	if n != len(data) {
		return fmt.Errorf("%w: %T: %d trailing bytes", ErrMalformed, v, len(data)-n)
	}
	return nil
}

func encode(v any) ([]byte, error) {
	var out []byte
	err := safely("marshal", func() error {
		var err error
		out, err = syntax.Marshal(v)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%w: marshal %T: %v", ErrLibrary, v, err)
	}
	return out, nil
}

// Fingerprint is the SHA-256 of an Ed25519 public key: the participant
// id every layer shares (peerid.ID).
type Fingerprint = peerid.ID

// FingerprintOf returns the fingerprint of a raw public key.
func FingerprintOf(pub []byte) Fingerprint { return peerid.Of(pub) }

// ParseFingerprint reads the hex form [peerid.ID.String] writes.
func ParseFingerprint(s string) (Fingerprint, bool) { return peerid.Parse(s) }

// compact deep-copies every byte slice reachable from v through exported
// fields, so decoded objects stop pinning the decoder's shared buffers.
func compact(v any) {
	compactValue(reflect.ValueOf(v), map[uintptr]bool{})
}

var byteSliceType = reflect.TypeOf([]byte(nil))

func compactValue(v reflect.Value, seen map[uintptr]bool) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() || seen[v.Pointer()] {
			return
		}
		seen[v.Pointer()] = true
		compactValue(v.Elem(), seen)
	case reflect.Interface:
		if !v.IsNil() {
			compactValue(v.Elem(), seen)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			compactValue(v.Field(i), seen)
		}
	case reflect.Slice:
		if v.IsNil() {
			return
		}
		if v.Type() == byteSliceType || v.Type().Elem().Kind() == reflect.Uint8 {
			if v.CanSet() {
				cp := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
				reflect.Copy(cp, v)
				v.Set(cp)
			}
			return
		}
		for i := 0; i < v.Len(); i++ {
			compactValue(v.Index(i), seen)
		}
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			compactValue(v.Index(i), seen)
		}
	case reflect.Map:
		if v.IsNil() {
			return
		}
		iter := v.MapRange()
		for iter.Next() {
			val := iter.Value()
			switch val.Kind() {
			case reflect.Pointer, reflect.Interface:
				compactValue(val, seen)
			case reflect.Slice:
				if val.Type().Elem().Kind() == reflect.Uint8 && v.CanSet() {
					cp := reflect.MakeSlice(val.Type(), val.Len(), val.Len())
					reflect.Copy(cp, val)
					v.SetMapIndex(iter.Key(), cp)
				}
			}
		}
	}
}
