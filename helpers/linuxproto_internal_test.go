package helpers

import "testing"

// TestUnimplementedTable checks that the table of the helpers xebpf lacks
// is in id order (Prototype searches it) and has none of table linux's.
func TestUnimplementedTable(t *testing.T) {
	for i, u := range unimplemented {
		if i > 0 && u.id <= unimplemented[i-1].id {
			t.Errorf("id %d (%s) out of order or repeated", u.id, u.proto.Name)
		}
		if f, ok := ByID(u.id); ok {
			t.Errorf("id %d is both implemented (%s) and in the table (%s)", u.id, f.Proto.Name, u.proto.Name)
		}
	}
}
