// Package scalar implements the GraphQL scalars both schemas share. Int64 is written here
// rather than taken from gqlgen so that a malformed amount is the client's BAD_USER_INPUT, not
// an internal error.
package scalar

import (
	"encoding/json"
	"io"
	"math"
	"strconv"

	"github.com/99designs/gqlgen/graphql"

	"github.com/springwallet/wallet/services/errs"
)

// MarshalInt64 writes an int64 as a JSON number.
func MarshalInt64(v int64) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.FormatInt(v, 10))
	})
}

// UnmarshalInt64 reads an integer given as a JSON number (or a literal); fractions, strings
// and out-of-range values are BAD_USER_INPUT.
func UnmarshalInt64(v any) (int64, error) {
	switch n := v.(type) {
	case int64:
		return n, nil
	case int:
		return int64(n), nil
	case int32:
		return int64(n), nil
	case json.Number:
		i, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil {
			return 0, errs.E(errs.BadUserInput, "%s is not a 64-bit integer", n)
		}
		return i, nil
	case float64:
		if n != math.Trunc(n) || n > math.MaxInt64 || n < math.MinInt64 {
			return 0, errs.E(errs.BadUserInput, "%v is not a 64-bit integer", n)
		}
		return int64(n), nil
	default:
		return 0, errs.E(errs.BadUserInput, "Int64 must be a JSON number, got %T", v)
	}
}
