package store

import (
	"sort"
	"time"
)

// File is a file offered in a room: by us (Mine) or to us.
type File struct {
	ID       string    `json:"id"` // hex of the 16-byte file id
	Room     string    `json:"room"`
	MsgID    string    `json:"msg_id"` // the offer's message id
	FromID   string    `json:"from_id"`
	FromNick string    `json:"from"`
	Mine     bool      `json:"mine,omitempty"`
	Offer    []byte    `json:"offer"` // the offer as it travelled (holds the key)
	To       []string  `json:"to"`    // the offer's recipients: who may fetch it
	At       time.Time `json:"at"`
	// State: FileOffered, FileFetching, FileSaved, FileSent, FileFailed.
	State string `json:"state"`
	// Source is where our whole copy is: the path we sent from, or the
	// path we saved to. DestDir and DestName are where /save puts it.
	Source   string `json:"source,omitempty"`
	DestDir  string `json:"dest_dir,omitempty"`
	DestName string `json:"dest_name,omitempty"`
	// Have marks the chunks verified in the partial file (bit i of byte
	// i/8), while fetching.
	Have []byte `json:"have,omitempty"`
	Err  string `json:"err,omitempty"`
}

// File states.
const (
	FileOffered  = "offered"
	FileFetching = "fetching"
	FileSaved    = "saved"
	FileSent     = "sent"
	FileFailed   = "failed"
)

// PutFile writes f (a new file, or its new state).
func (s *Store) PutFile(f File) error {
	return s.update(func(tx *Tx) error { return putJSON(tx.Bucket(bFiles), []byte(f.ID), f) })
}

// AddFile writes f unless a file with its id is known; it reports whether
// f was new. Someone else's file with the same id is not taken.
func (s *Store) AddFile(f File) (bool, error) {
	added := false
	err := s.update(func(tx *Tx) error {
		if tx.Bucket(bFiles).Get([]byte(f.ID)) != nil {
			return nil
		}
		added = true
		return putJSON(tx.Bucket(bFiles), []byte(f.ID), f)
	})
	return added, err
}

// GetFile returns the file with id, or ErrNotFound.
func (s *Store) GetFile(id string) (File, error) {
	var f File
	err := s.view(func(tx *Tx) error { return getJSON(tx.Bucket(bFiles), []byte(id), &f) })
	return f, err
}

// Files lists the files, oldest first.
func (s *Store) Files() ([]File, error) {
	var out []File
	err := s.view(func(tx *Tx) error {
		return tx.Bucket(bFiles).ForEach(func(k, _ []byte) error {
			var f File
			if err := getJSON(tx.Bucket(bFiles), k, &f); err != nil {
				return err
			}
			out = append(out, f)
			return nil
		})
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out, err
}

// SetFileHave records the chunks of file id verified so far.
func (s *Store) SetFileHave(id string, have []byte) error {
	return s.update(func(tx *Tx) error {
		var f File
		if err := getJSON(tx.Bucket(bFiles), []byte(id), &f); err != nil {
			return err
		}
		f.Have = have
		return putJSON(tx.Bucket(bFiles), []byte(id), f)
	})
}

// PutManifest keeps file id's manifest.
func (s *Store) PutManifest(id string, m []byte) error {
	return s.update(func(tx *Tx) error { return tx.Bucket(bManifest).Put([]byte(id), m) })
}

// Manifest returns file id's manifest, or ErrNotFound.
func (s *Store) Manifest(id string) ([]byte, error) {
	var out []byte
	err := s.view(func(tx *Tx) error {
		m := tx.Bucket(bManifest).Get([]byte(id))
		if m == nil {
			return ErrNotFound
		}
		out = append([]byte{}, m...)
		return nil
	})
	return out, err
}
