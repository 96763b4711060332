package a

import "time"

var ErrX, errY = 1, 2

const C = 3

type T struct {
	A, B int
	c    string
	D    []byte
}

type N int

func New(a, b int, t time.Time) (*T, error) { return nil, nil }

func (t *T) M(x string) int { return 0 }

func (t *T) private() {}

func (n N) Value() {}

type hidden struct{}

func (hidden) Exported() {}
