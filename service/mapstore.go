package service

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
)

// The files that keep a pinned map's contents in the state directory:
//
//	maps/KEY.snap     a snapshot: every entry, and the sequence number of
//	                  the last journal record it includes
//	maps/KEY.journal  the updates and deletes from Go since the snapshot
//
// A snapshot is written to a temporary file, synced and renamed over the
// old one (then the directory is synced), so a kill leaves the old or the
// new one; it ends with a CRC-32C of everything before it. A journal
// record carries its own length and CRC-32C: a torn tail fails its check
// and is cut off when the journal is opened.

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// snapMagic starts a snapshot file.
const snapMagic = "XEBPFSN1"

// Journal record operations.
const (
	jUpdate byte = 1
	jDelete byte = 2
	jPop    byte = 3 // a queue's or a stack's pop (map pop through the daemon)
)

// errCorrupt reports a state file that fails its checks.
var errCorrupt = errors.New("corrupt state file")

// snapEntry is one key and its value (every CPU's, for per-CPU maps) as
// LookupBytes returns it.
type snapEntry struct{ key, val []byte }

// encodeSnapshot encodes a snapshot of entries that includes the journal
// up to seq.
func encodeSnapshot(seq uint64, entries []snapEntry) []byte {
	b := []byte(snapMagic)
	b = binary.LittleEndian.AppendUint64(b, seq)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(entries)))
	for _, e := range entries {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(e.key)))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(e.val)))
		b = append(b, e.key...)
		b = append(b, e.val...)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// decodeSnapshot decodes encodeSnapshot's bytes.
func decodeSnapshot(b []byte) (seq uint64, entries []snapEntry, err error) {
	if len(b) < len(snapMagic)+20 || string(b[:len(snapMagic)]) != snapMagic {
		return 0, nil, fmt.Errorf("snapshot: bad header: %w", errCorrupt)
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return 0, nil, fmt.Errorf("snapshot: checksum mismatch: %w", errCorrupt)
	}
	p := body[len(snapMagic):]
	seq = binary.LittleEndian.Uint64(p)
	n := binary.LittleEndian.Uint64(p[8:])
	p = p[16:]
	for i := uint64(0); i < n; i++ {
		if len(p) < 8 {
			return 0, nil, fmt.Errorf("snapshot: entry %d truncated: %w", i, errCorrupt)
		}
		kl, vl := uint64(binary.LittleEndian.Uint32(p)), uint64(binary.LittleEndian.Uint32(p[4:]))
		p = p[8:]
		if uint64(len(p)) < kl+vl {
			return 0, nil, fmt.Errorf("snapshot: entry %d truncated: %w", i, errCorrupt)
		}
		entries = append(entries, snapEntry{key: p[:kl:kl], val: p[kl : kl+vl : kl+vl]})
		p = p[kl+vl:]
	}
	if len(p) != 0 {
		return 0, nil, fmt.Errorf("snapshot: %d bytes after the entries: %w", len(p), errCorrupt)
	}
	return seq, entries, nil
}

// jRecord is one journal record.
type jRecord struct {
	seq      uint64
	op       byte
	key, val []byte
}

// appendRecord encodes r at the end of b.
func appendRecord(b []byte, r jRecord) []byte {
	var p []byte
	p = binary.LittleEndian.AppendUint64(p, r.seq)
	p = append(p, r.op)
	p = binary.LittleEndian.AppendUint32(p, uint32(len(r.key)))
	p = append(p, r.key...)
	p = append(p, r.val...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(p)))
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(p, castagnoli))
	return append(b, p...)
}

// decodeJournal returns the journal's whole records and the length of the
// prefix they fill: what follows is a torn or corrupt tail.
func decodeJournal(b []byte) (recs []jRecord, good int) {
	for {
		rest := b[good:]
		if len(rest) < 8 {
			return recs, good
		}
		n := int(binary.LittleEndian.Uint32(rest))
		if n < 13 || n > len(rest)-8 {
			return recs, good
		}
		p := rest[8 : 8+n]
		if crc32.Checksum(p, castagnoli) != binary.LittleEndian.Uint32(rest[4:]) {
			return recs, good
		}
		kl := int(binary.LittleEndian.Uint32(p[9:]))
		if kl > n-13 {
			return recs, good
		}
		recs = append(recs, jRecord{
			seq: binary.LittleEndian.Uint64(p), op: p[8],
			key: p[13 : 13+kl : 13+kl], val: p[13+kl:],
		})
		good += 8 + n
	}
}

// writeFileAtomic writes b to path through a synced temporary file
// renamed over it, and syncs the directory.
func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a directory's entries durable (a no-op where directories
// cannot be opened for syncing).
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be synced there; renames are journaled by NTFS
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// journal is an open journal file.
type journal struct {
	f    *os.File
	size int64 // bytes in the file
}

// openJournal opens (creating) the journal at path, cuts a torn tail and
// returns its records.
func openJournal(path string) (*journal, []jRecord, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	recs, good := decodeJournal(b)
	if good != len(b) {
		if err := f.Truncate(int64(good)); err != nil {
			f.Close()
			return nil, nil, err
		}
	}
	if _, err := f.Seek(int64(good), io.SeekStart); err != nil {
		f.Close()
		return nil, nil, err
	}
	return &journal{f: f, size: int64(good)}, recs, nil
}

// write writes a record; it is durable after the next sync.
func (j *journal) write(r jRecord) error {
	n, err := j.f.Write(appendRecord(nil, r))
	if err != nil && n > 0 {
		// Cut the partial record: records after it would be lost with
		// it at the next open.
		if terr := j.f.Truncate(j.size); terr == nil {
			_, terr = j.f.Seek(j.size, io.SeekStart)
			err = errors.Join(err, terr)
		}
		return err
	}
	j.size += int64(n)
	return err
}

// sync makes the records written so far durable.
func (j *journal) sync() error {
	if testSyncHook != nil {
		testSyncHook()
	}
	return j.f.Sync()
}

// testSyncHook, if set, runs before each journal sync (tests).
var testSyncHook func()

// append writes a record and syncs it.
func (j *journal) append(r jRecord) error {
	if err := j.write(r); err != nil {
		return err
	}
	return j.sync()
}

// reset empties the journal (its records are in a snapshot).
func (j *journal) reset() error {
	if err := j.f.Truncate(0); err != nil {
		return err
	}
	j.size = 0
	_, err := j.f.Seek(0, io.SeekStart)
	return err
}

func (j *journal) close() error { return j.f.Close() }
