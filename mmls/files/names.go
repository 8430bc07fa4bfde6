package files

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxSavedName leaves room for " (9999)" within common 255-byte limits.
const maxSavedName = 200

// SafeName turns what a peer calls a file into a name that is only a
// name: its last path element (either slash), without control or
// bidirectional-formatting characters, leading dots, trailing dots or
// spaces, characters Windows refuses, or names Windows reserves (CON,
// NUL, COM1...), at most 200 bytes with its extension kept. Nothing left
// gives "file".
func SafeName(name string) string {
	name = strings.ToValidUTF8(name, "_")
	name = strings.ReplaceAll(name, `\`, "/")
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	for _, r := range name {
		switch {
		case r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) || unicode.Is(unicode.Bidi_Control, r) ||
			r == '\u200b' || r == '\u2028' || r == '\u2029' || r == '\ufeff':
			// dropped: controls, invisible and direction marks
		case strings.ContainsRune(`<>:"|?*`, r):
			b.WriteByte('_')
		default:
			b.WriteRune(r)
		}
	}
	name = strings.TrimLeft(b.String(), ". ")
	name = strings.TrimRight(name, ". ")
	if name == "" {
		return "file"
	}
	if reserved(name) {
		name = "_" + name
	}
	if len(name) > maxSavedName {
		ext := filepath.Ext(name)
		if len(ext) > 16 || len(ext) == len(name) {
			ext = ""
		}
		stem := name[:maxSavedName-len(ext)]
		for !utf8.ValidString(stem) {
			stem = stem[:len(stem)-1]
		}
		name = strings.TrimRight(stem, ". ") + ext
	}
	return name
}

func reserved(name string) bool {
	stem, _, _ := strings.Cut(name, ".")
	stem = strings.ToUpper(strings.TrimRight(stem, " "))
	switch stem {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return true
	}
	if len(stem) == 4 && (strings.HasPrefix(stem, "COM") || strings.HasPrefix(stem, "LPT")) {
		return stem[3] >= '0' && stem[3] <= '9'
	}
	return false
}

// candidate is the n-th name tried for name: "name.ext", "name (1).ext"...
func candidate(name string, n int) string {
	if n == 0 {
		return name
	}
	ext := filepath.Ext(name)
	if ext == name || len(ext) > 16 {
		ext = ""
	}
	return fmt.Sprintf("%s (%d)%s", strings.TrimSuffix(name, ext), n, ext)
}

// maxTries bounds the "name (n).ext" tried before giving up.
const maxTries = 10000

// ErrNoName: every name tried exists.
var ErrNoName = errors.New("files: no free name")

// Place puts the verified file src into dir under name, or "name (1).ext"
// and so on when that exists: an existing file is never overwritten, and
// the destination appears whole (a hard link, made once the content is
// durable). src stays where it is. Returns the path.
func Place(src, dir, name string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("files: %w", err)
	}
	path, err := link(src, dir, name)
	if err == nil || errors.Is(err, ErrNoName) {
		return path, err
	}
	// Another file system (or no hard links): a hidden copy in dir, made
	// durable, then linked.
	tmp, err := os.CreateTemp(dir, ".mmls-chat-*.part")
	if err != nil {
		return "", fmt.Errorf("files: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := copyInto(tmp, src); err != nil {
		return "", err
	}
	if path, err = link(tmp.Name(), dir, name); err == nil || errors.Is(err, ErrNoName) {
		return path, err
	}
	// No hard links in dir at all: create the name exclusively and copy.
	for n := 0; n < maxTries; n++ {
		path = filepath.Join(dir, candidate(name, n))
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("files: %w", err)
		}
		if err := copyInto(f, src); err != nil {
			os.Remove(path)
			return "", err
		}
		return path, nil
	}
	return "", ErrNoName
}

func link(src, dir, name string) (string, error) {
	for n := 0; n < maxTries; n++ {
		path := filepath.Join(dir, candidate(name, n))
		err := os.Link(src, path)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		syncDir(dir)
		return path, nil
	}
	return "", ErrNoName
}

// copyInto copies src into f, syncs and closes it; f is 0600.
func copyInto(f *os.File, src string) error {
	defer f.Close()
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("files: %w", err)
	}
	defer in.Close()
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("files: %w", err)
	}
	if _, err := io.Copy(f, in); err != nil {
		return fmt.Errorf("files: copy: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("files: %w", err)
	}
	return f.Close()
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// DownloadDir is where files are saved by default: $XDG_DOWNLOAD_DIR, or
// ~/Downloads, then mmls-chat.
func DownloadDir() string {
	base := os.Getenv("XDG_DOWNLOAD_DIR")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = "."
		}
		base = filepath.Join(home, "Downloads")
	}
	return filepath.Join(base, "mmls-chat")
}
