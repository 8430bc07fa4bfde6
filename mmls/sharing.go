package mmls

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/mmls-chat/mmls-chat/mmls/dmls"
	"github.com/mmls-chat/mmls-chat/mmls/files"
	"github.com/mmls-chat/mmls-chat/mmls/frame"
	"github.com/mmls-chat/mmls-chat/mmls/store"
)

// Files: an offer is an application message in our send group (so it
// reaches exactly the members we send to, and they alone get its key);
// mmls/files seals, serves and fetches the chunks, on its own goroutine,
// and reports back here.

// filesNet is the network as mmls/files needs it.
type filesNet struct{ n Network }

func (f filesNet) Send(to files.PeerID, payload []byte) error { return f.n.Send(to, payload) }
func (f filesNet) QueuedBytes(to files.PeerID) int {
	for _, p := range f.n.Peers() {
		if p.ID == to {
			return p.QueuedBytes
		}
	}
	return 0
}

// unstored reports whether ev is a frame whose handling writes nothing to
// the store (file traffic, says the table): no batch is opened for it.
func unstored(ev NetEvent) bool {
	return ev.Kind == Frame && len(ev.Payload) > 0 && frame.Kind(ev.Payload[0]).Known() && !frame.Kind(ev.Payload[0]).Stored()
}

// sendFile checks the file and has it read and sealed in the background;
// the offer goes when that is done (offerPrepared).
func (e *Engine) sendFile(room, path string) (Event, error) {
	if _, err := e.room(room); err != nil {
		return nil, err
	}
	path = expandHome(strings.TrimSpace(path))
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, failWith(ErrNotSent, err, "cannot read %s", path)
	}
	st, err := os.Stat(abs)
	switch {
	case err != nil:
		return nil, failWith(ErrNotSent, err, "cannot read %s", path)
	case !st.Mode().IsRegular():
		return nil, failf(ErrNotSent, "%s is not a file", path)
	case st.Size() > e.files.MaxSize():
		return nil, failf(ErrNotSent, "%s is %s; files up to %s can be sent (--max-file)", path, Bytes(st.Size()), Bytes(e.files.MaxSize()))
	}
	e.files.Prepare(room, abs)
	return &FilePreparing{Room: room, Name: files.SafeName(filepath.Base(abs)), Size: st.Size()}, nil
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}

// ParseBytes reads a size as people write it: 1048576, 500MB, 4GiB
// (at most 1 TiB).
func ParseBytes(v string) (int64, error) {
	v = strings.TrimSpace(v)
	num := strings.TrimRightFunc(v, func(r rune) bool { return r < '0' || r > '9' })
	unit := strings.ToUpper(strings.TrimSpace(v[len(num):]))
	mult, ok := map[string]int64{"": 1, "B": 1, "K": 1 << 10, "KB": 1000, "KIB": 1 << 10, "M": 1 << 20, "MB": 1000 * 1000,
		"MIB": 1 << 20, "G": 1 << 30, "GB": 1000 * 1000 * 1000, "GIB": 1 << 30}[unit]
	n, err := strconv.ParseInt(num, 10, 64)
	if !ok || err != nil || n <= 0 || n > files.MaxSize/mult {
		return 0, fmt.Errorf("a size like 500MB or 4GiB (at most 1 TiB)")
	}
	return n * mult, nil
}

// Bytes says a size the way people read it: 512 B, 2.4 MB, 1.1 GB.
func Bytes(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	case n < 1000*1000*1000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.2f GB", float64(n)/1e9)
}

func (e *Engine) onFileEvent(ev files.Event) {
	switch ev := ev.(type) {
	case files.Prepared:
		e.offerPrepared(ev)
	case files.Progress:
		room, name := e.fileLabel(ev.ID)
		e.emit(&FileProgress{ID: ev.ID.String(), Room: room, Name: name, Done: ev.Done, Total: ev.Total})
	case files.Saved:
		room, name := e.fileLabel(ev.ID)
		e.emit(&FileSaved{ID: ev.ID.String(), Room: room, Name: name, Path: ev.Path, SHA256: hex.EncodeToString(ev.SHA256[:])})
	case files.Cancelled:
		room, name := e.fileLabel(ev.ID)
		e.emit(&FileCancelled{ID: ev.ID.String(), Room: room, Name: name})
	case files.Stalled:
		room, name := e.fileLabel(ev.ID)
		e.emit(&FileWaiting{ID: ev.ID.String(), Room: room, Name: name})
	case files.Failed:
		room, name := e.fileLabel(ev.ID)
		e.emit(&FileFailed{ID: ev.ID.String(), Room: room, Name: name, Err: failWith(ErrFile, ev.Err, "%s could not be fetched: %v", name, ev.Err)})
	}
}

func (e *Engine) fileLabel(id files.ID) (room, name string) {
	f, err := e.st.GetFile(id.String())
	if err != nil {
		return "", id.Short()
	}
	if o, err := files.ParseOffer(f.Offer); err == nil {
		name = o.Name
	}
	return f.Room, name
}

// offerPrepared sends the offer of a file read and sealed: the file's
// record first (we serve it from its path from now on), then the
// message, stored in the outbox like a text.
func (e *Engine) offerPrepared(p files.Prepared) {
	name := files.SafeName(filepath.Base(p.Path))
	failed := func(err error, format string, args ...any) {
		e.emit(&FileFailed{Room: p.Room, Name: name, Err: failWith(ErrFile, err, format, args...)})
	}
	if p.Err != nil {
		failed(p.Err, "%s could not be sent: %v", name, p.Err)
		return
	}
	r := e.rooms[p.Room]
	if r == nil {
		failed(nil, "%s was not sent: you left %s", name, p.Room)
		return
	}
	o := p.Offer
	body, err := o.Marshal()
	if err != nil {
		failed(err, "%s could not be sent: %v", name, err)
		return
	}
	later, err := e.laterRecipients(r)
	if err != nil {
		e.fail(err)
		return
	}
	env, err := r.s.NewFileEnvelope(body, later...)
	if err != nil {
		failed(err, "%s could not be sent: %v", name, err)
		return
	}
	key := files.Key(e.me, o.ID)
	rec := store.File{ID: key.String(), Room: r.name, MsgID: hex.EncodeToString(env.ID[:]), FromID: e.me.String(),
		FromNick: e.nick, Mine: true, Offer: body, At: e.now().UTC(), State: store.FileSent, Source: p.Path}
	for _, fp := range env.To {
		rec.To = append(rec.To, fp.String())
	}
	if err := e.st.PutFile(rec); err != nil {
		failed(err, "%s could not be sent: %v", name, storageErr(err))
		return
	}
	out, err := e.protectStored(r, env, store.Outgoing{Kind: store.KindFile, Text: o.Name, Body: body, File: fileRef(key, o)})
	if err != nil {
		e.emit(&FileFailed{Room: p.Room, Name: name, Err: err})
		return
	}
	e.files.Hold(rec)
	e.emit(&FileOffered{Room: r.name, MsgID: rec.MsgID, From: e.nick, FromID: e.me, Mine: true,
		File: viewOf(rec, o), Recipients: len(env.To)})
	e.apply(r, out, nil)
}

func fileRef(key files.ID, o *files.Offer) *store.FileRef {
	return &store.FileRef{ID: key.String(), Name: o.Name, Size: o.Size, Mime: o.Mime, SHA256: hex.EncodeToString(o.SHA256[:])}
}

func viewOf(f store.File, o *files.Offer) FileView {
	from, _ := ParseID(f.FromID)
	return FileView{ID: f.ID, Name: o.Name, Size: o.Size, Mime: o.Mime, SHA256: hex.EncodeToString(o.SHA256[:]),
		From: f.FromNick, FromID: from, State: FileState(f.State), Path: f.Source}
}

// laterRecipients are who a message of r is addressed to beyond our send
// group as it is: the members we had before a restart that are not back
// yet, the people a room still forming with us has not added yet (online
// and announcing r, whom r expects to link with), and the other person of a direct
// room, linked or not. What we send now reaches them once they are in our
// group (resendTo): a line typed while the room forms is never sent to
// nobody.
func (e *Engine) laterRecipients(r *room) ([]ID, error) {
	stored, err := e.st.Members(r.name)
	if err != nil {
		return nil, storageErr(err)
	}
	var later []ID
	for _, s := range stored {
		if fp, ok := ParseID(s); ok {
			later = append(later, fp)
		}
	}
	if r.direct {
		later = append(later, r.with)
	}
	for _, p := range e.peers {
		if p.online && p.rooms[r.id] && r.s.Expects(p.id) {
			later = append(later, p.id)
		}
	}
	return later, nil
}

// waiting counts the recipients of env not in r's send group yet.
func waiting(r *room, env *dmls.Envelope) int {
	n := 0
	for _, fp := range env.To {
		if !r.s.InSendGroup(fp) {
			n++
		}
	}
	return n
}

// fileOffered takes a file offer from a member: kept once (under
// files.Key: the sender's own id for it, so another member reusing the id
// names another file) and shown. It returns the event to show, if new.
func (e *Engine) fileOffered(r *room, ev dmls.Event, m store.Message) (Event, error) {
	o, err := files.ParseOffer(ev.Envelope.Body)
	if err != nil {
		e.cfg.Logf("mmls: room %s: a file offer from %s: %v", r.name, ev.Peer.Short(), err)
		return nil, nil // taken (a receipt follows): it will never parse
	}
	key := files.Key(ev.Peer, o.ID)
	rec := store.File{ID: key.String(), Room: r.name, MsgID: m.ID, FromID: ev.Peer.String(), FromNick: m.FromNick,
		Offer: ev.Envelope.Body, At: m.ReceivedAt, State: store.FileOffered}
	for _, fp := range ev.Envelope.To {
		rec.To = append(rec.To, fp.String())
	}
	if _, err := e.st.GetFile(rec.ID); err == nil {
		return nil, nil // a re-send of an offer we have (its key binds its sender)
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	m.Text, m.File = o.Name, fileRef(key, o)
	added, err := e.st.AddMessage(m)
	if err != nil || !added {
		return nil, err
	}
	if _, err := e.st.AddFile(rec); err != nil {
		return nil, err
	}
	if e.autoSave > 0 && o.Size <= min(e.autoSave, e.files.MaxSize()) && e.trustsFiles(r, ev.Peer) {
		e.afterCommit(func() { e.autoFetch(rec.ID, r.name) })
	}
	return &FileOffered{Room: r.name, MsgID: m.ID, From: m.FromNick, FromID: ev.Peer, File: viewOf(rec, o)}, nil
}

// findFile is the file of room whose id starts with prefix ("": the
// latest offered to us and not saved).
func (e *Engine) findFile(room, prefix string) (store.File, error) {
	return e.findFileIn(room, prefix, store.FileOffered, store.FileFailed)
}

// findFileIn is findFile, where "" means the latest in one of states.
func (e *Engine) findFileIn(room, prefix string, states ...string) (store.File, error) {
	all, err := e.st.Files()
	if err != nil {
		return store.File{}, storageErr(err)
	}
	var found []store.File
	for _, f := range all {
		switch {
		case f.Room != room:
		case prefix == "" && !f.Mine && slices.Contains(states, f.State):
			found = []store.File{f} // the latest wins
		case prefix != "" && strings.HasPrefix(f.ID, prefix):
			found = append(found, f)
		}
	}
	switch {
	case len(found) == 0 && prefix == "" && slices.Contains(states, store.FileFetching):
		return store.File{}, failf(ErrUnknownFile, "no file is being fetched in %s", room)
	case len(found) == 0 && prefix == "":
		return store.File{}, failf(ErrUnknownFile, "no file waits to be saved in %s (/files lists them)", room)
	case len(found) == 0:
		return store.File{}, failf(ErrUnknownFile, "no file %s in %s (/files lists them)", prefix, room)
	case len(found) > 1:
		return store.File{}, failf(ErrUnknownFile, "%d files in %s start with %s: give more of the id", len(found), room, prefix)
	}
	return found[0], nil
}

// saveFile starts fetching a file offered to us.
func (e *Engine) saveFile(c SaveFile) (Event, error) {
	if _, err := e.room(c.Room); err != nil {
		return nil, err
	}
	f, err := e.findFile(c.Room, c.ID)
	if err != nil {
		return nil, err
	}
	o, err := files.ParseOffer(f.Offer)
	if err != nil {
		return nil, failWith(ErrFile, err, "that file's offer is damaged")
	}
	switch {
	case f.Mine:
		return nil, failf(ErrFile, "%s is your own file (at %s)", o.Name, f.Source)
	case f.State == store.FileSaved:
		return nil, failf(ErrFile, "%s is saved already, at %s", o.Name, f.Source)
	case f.State == store.FileFetching:
		return nil, failf(ErrFile, "%s is being fetched already", o.Name)
	case o.Size > e.files.MaxSize():
		return nil, failf(ErrFile, "%s is %s; files up to %s are saved (--max-file)", o.Name, Bytes(o.Size), Bytes(e.files.MaxSize()))
	}
	dir, name := e.cfg.DownloadDir, o.Name
	if p := expandHome(c.Path); p != "" {
		if st, err := os.Stat(p); err == nil && st.IsDir() || strings.HasSuffix(p, "/") {
			dir = p
		} else {
			dir, name = filepath.Dir(p), files.SafeName(filepath.Base(p))
		}
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, failWith(ErrFile, err, "cannot save into %s", c.Path)
	}
	f.State, f.DestDir, f.DestName, f.Have, f.Err = store.FileFetching, dir, name, nil, ""
	if err := e.st.PutFile(f); err != nil {
		return nil, storageErr(err)
	}
	e.files.Fetch(f)
	return &FileSaving{Room: c.Room, ID: f.ID, Name: o.Name, Size: o.Size, Dir: dir}, nil
}

// listFiles answers the files of a room.
func (e *Engine) listFiles(room string) (Event, error) {
	if _, err := e.room(room); err != nil {
		return nil, err
	}
	all, err := e.st.Files()
	if err != nil {
		return nil, storageErr(err)
	}
	out := &Files{Room: room}
	for _, f := range all {
		if o, err := files.ParseOffer(f.Offer); err == nil && f.Room == room {
			out.Files = append(out.Files, viewOf(f, o))
		}
	}
	return out, nil
}

// lineFile is the file view of a history line that is a file offer.
func (e *Engine) lineFile(ref *store.FileRef) *FileView {
	if ref == nil {
		return nil
	}
	v := &FileView{ID: ref.ID, Name: ref.Name, Size: ref.Size, Mime: ref.Mime, SHA256: ref.SHA256}
	if f, err := e.st.GetFile(ref.ID); err == nil {
		v.State, v.Path, v.From = FileState(f.State), f.Source, f.FromNick
		v.FromID, _ = ParseID(f.FromID)
	}
	return v
}

// kickedAsker refuses a request for a file of a room from which we
// removed the asker: the offer reached them, but what we serve follows
// who we send to now. It reports whether it answered.
func (e *Engine) kickedAsker(from ID, req files.Request) bool {
	f, err := e.st.GetFile(req.ID.String())
	if err != nil {
		return false
	}
	r := e.rooms[f.Room]
	if r == nil || !r.s.Kicked(from) {
		return false
	}
	e.cfg.Logf("mmls: %s, removed from %s, asked for file %s: refused", from.Short(), f.Room, req.ID.Short())
	e.send(from, files.Data{Request: req, Status: files.StatusRefused}.Frame())
	return true
}

// cancelFile stops fetching a file; the manager says when it stopped.
func (e *Engine) cancelFile(c CancelFile) error {
	if _, err := e.room(c.Room); err != nil {
		return err
	}
	f, err := e.findFileIn(c.Room, c.ID, store.FileFetching)
	if err != nil {
		return err
	}
	if f.State != store.FileFetching {
		return failf(ErrFile, "%s is not being fetched", f.ID[:8])
	}
	key, _ := files.ParseID(f.ID)
	e.files.Cancel(key)
	return nil
}

// trustsFiles: files from peer in r are saved without asking (within the
// auto-save size): r is a direct or private room, or peer is verified. A
// stranger in an open room cannot fill our disk.
func (e *Engine) trustsFiles(r *room, peer ID) bool {
	if r.direct && !r.request || r.private() {
		return true
	}
	verified, err := e.st.Verified(peer.String())
	return err == nil && verified
}

// autoFetch starts saving an offered file into the download folder.
func (e *Engine) autoFetch(id, room string) {
	f, err := e.st.GetFile(id)
	if err != nil || f.State != store.FileOffered {
		return
	}
	o, err := files.ParseOffer(f.Offer)
	if err != nil {
		return
	}
	f.State, f.DestDir, f.DestName = store.FileFetching, e.cfg.DownloadDir, o.Name
	if err := e.st.PutFile(f); err != nil {
		e.fail(storageErr(err))
		return
	}
	e.files.Fetch(f)
	e.emit(&FileSaving{Room: room, ID: f.ID, Name: o.Name, Size: o.Size, Dir: f.DestDir})
}
