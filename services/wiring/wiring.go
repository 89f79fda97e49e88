// Package wiring checks what constructors are given: every dependency a service cannot work
// without is a field of its Deps struct, and Require refuses a Deps with one left out, so a
// wiring mistake fails at start with the field's name instead of as a nil dereference later.
package wiring

import (
	"fmt"
	"reflect"
)

// Require returns an error naming the first field of the struct deps that is nil (pointers,
// interfaces, funcs, maps, slices, channels), except the fields named in optional. Fields of
// other kinds (numbers, strings, structs such as a Config) are not checked: their zero value
// means "the default". who names the constructor in the error.
func Require(who string, deps any, optional ...string) error {
	v := reflect.ValueOf(deps)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return fmt.Errorf("%s: deps must be a struct, not %s", who, v.Kind())
	}
	skip := map[string]bool{}
	for _, name := range optional {
		skip[name] = true
	}
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if skip[f.Name] || !f.IsExported() {
			continue
		}
		switch fv := v.Field(i); fv.Kind() {
		case reflect.Pointer, reflect.Interface, reflect.Func, reflect.Map, reflect.Slice, reflect.Chan:
			if fv.IsNil() {
				return fmt.Errorf("%s: %s is required", who, f.Name)
			}
		}
	}
	return nil
}
