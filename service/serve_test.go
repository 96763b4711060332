package service_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/xebpf/xebpf/service"
)

// failingListener fails its Accepts with errs, then as a closed listener.
type failingListener struct {
	net.Listener
	errs []error
}

func (l *failingListener) Accept() (net.Conn, error) {
	if len(l.errs) > 0 {
		err := l.errs[0]
		l.errs = l.errs[1:]
		return nil, err
	}
	return nil, net.ErrClosed
}

func (l *failingListener) Close() error { return nil }

// TestServeSurvivesAcceptErrors: an Accept error (out of file
// descriptors) is logged and the daemon accepts again; a closed listener
// ends Serve.
func TestServeSurvivesAcceptErrors(t *testing.T) {
	d := service.New()
	var mu sync.Mutex
	var logged []string
	d.Logf = func(format string, args ...any) {
		mu.Lock()
		logged = append(logged, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	l := &failingListener{errs: []error{errors.New("accept4: too many open files"), errors.New("accept4: too many open files")}}
	if err := d.Serve(context.Background(), l); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(logged) != 2 || !strings.Contains(logged[0], "too many open files") {
		t.Errorf("logged %q", logged)
	}
	if err := d.Close(); err != nil {
		t.Error(err)
	}
}
