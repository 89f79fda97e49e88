package wiring

import (
	"context"
	"strings"
	"testing"
	"time"
)

type deps struct {
	DB      *struct{}
	Ctx     context.Context
	Now     func() time.Time
	Timeout time.Duration
	Hooks   func()
}

func TestRequireNamesTheFirstMissingField(t *testing.T) {
	full := deps{DB: &struct{}{}, Ctx: context.Background(), Now: time.Now}
	if err := Require("x.New", full, "Hooks"); err != nil {
		t.Fatalf("complete deps refused: %v", err)
	}
	for _, tc := range []struct {
		name string
		d    deps
	}{
		{"DB", deps{Ctx: full.Ctx, Now: full.Now}},
		{"Ctx", deps{DB: full.DB, Now: full.Now}},
		{"Now", deps{DB: full.DB, Ctx: full.Ctx}},
	} {
		err := Require("x.New", tc.d, "Hooks")
		if err == nil || !strings.Contains(err.Error(), "x.New: "+tc.name+" is required") {
			t.Errorf("without %s: %v", tc.name, err)
		}
	}
	if err := Require("x.New", full); err == nil || !strings.Contains(err.Error(), "Hooks") {
		t.Fatalf("a nil field not declared optional passed: %v", err)
	}
	if err := Require("x.New", 3); err == nil {
		t.Fatal("a non-struct passed")
	}
}
