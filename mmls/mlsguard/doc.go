// Package mlsguard is the only importer of github.com/cisco/go-mls in
// mmls-chat. It turns the library into a small set of safe calls:
//
//   - every input from the network is decoded strictly (no trailing bytes,
//     bounded sizes) and bounds-checked (sender index, nonce length, cipher
//     suite, generation distance) before the library sees it;
//   - every library call runs under recover, so a library panic becomes an
//     error wrapping [ErrMalformed] or [ErrLibrary];
//   - commits and application messages are accepted only from leaf 0 (the
//     send group's owner); a Welcome only when its leaf 0 and signer are the
//     owner the caller expects;
//   - application messages are decrypted by a replacement path that keeps a
//     transactional copy of the sender's ratchet, erases a key only after the
//     message has been authenticated, and so tolerates corrupted copies and
//     out-of-order generations (the library's own Unprotect does neither);
//   - a member applies a commit (apply.go) and joins from a Welcome
//     (joinstate.go) by paths rebuilt from the library's exported pieces:
//     go-mls's own look each committed proposal up by re-encoding every
//     pending one (quadratic) and decode a tree by copying the rest of it at
//     every node; tests run the same inputs through go-mls's and require the
//     same state;
//   - decoded trees are compacted (every byte slice deep-copied) so a joined
//     state does not pin the decoder's buffers.
//
// Only the suite X25519_AES128GCM_SHA256_Ed25519 is used: the P-256 suites
// panic on current Go.
//
// # Concurrency
//
// A [Group] holds one *mls.State. Its methods lock a mutex of its own, so a
// Group may be shared, but the intended use is one goroutine (the engine)
// owning every Group. Distinct Groups never share mutable library state.
package mlsguard
