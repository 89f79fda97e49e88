// Package scalar implements the GraphQL scalars both schemas share. Int64 is written here
// rather than taken from gqlgen so that a malformed amount is the client's BAD_USER_INPUT, not
// an internal error.
package scalar

import (
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"github.com/springwallet/wallet/services/errs"
)

// MarshalInt64 writes an int64 as a JSON number.
func MarshalInt64(v int64) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.FormatInt(v, 10))
	})
}

// UnmarshalInt64 reads an integer written as one: an Int literal in the document, or a JSON
// number without fraction or exponent in the variables (the transports decode them as
// json.Number, so 100.0 is told from 100). A Float (100.0, 1e2, 9223372036854775808.0), a value
// outside int64 or anything that is not a number is BAD_USER_INPUT, the same for literals and
// variables, with a message in GraphQL's terms.
func UnmarshalInt64(v any) (int64, error) {
	switch n := v.(type) {
	case int64:
		return n, nil
	case int:
		return int64(n), nil
	case int32:
		return int64(n), nil
	case json.Number:
		s := string(n)
		if strings.ContainsAny(s, ".eE") {
			return 0, errs.E(errs.BadUserInput, "Int64 cannot represent non-integer value: %s", short(s))
		}
		i, err := strconv.ParseInt(s, 10, 64)
		if errors.Is(err, strconv.ErrRange) {
			return 0, errs.E(errs.BadUserInput, "Int64 cannot represent non 64-bit signed integer value: %s", short(s))
		}
		if err != nil {
			return 0, errs.E(errs.BadUserInput, "Int64 cannot represent non-integer value: %s", short(s))
		}
		return i, nil
	case float64:
		// Only a Float literal arrives as float64. Refused whatever its value, as the same
		// number sent as a variable is: converting would also wrap 9223372036854775808.0
		// (float64 cannot tell it from MaxInt64) to MinInt64.
		return 0, errs.E(errs.BadUserInput, "Int64 cannot represent a Float value (%s); write the number without a fraction or exponent",
			strconv.FormatFloat(n, 'g', -1, 64))
	case string:
		return 0, errs.E(errs.BadUserInput, "Int64 cannot represent a String value; send the number as a number")
	case bool:
		return 0, errs.E(errs.BadUserInput, "Int64 cannot represent a Boolean value")
	case []any:
		return 0, errs.E(errs.BadUserInput, "Int64 cannot represent a list")
	case map[string]any:
		return 0, errs.E(errs.BadUserInput, "Int64 cannot represent an input object")
	default:
		return 0, errs.E(errs.BadUserInput, "Int64 must be an integer")
	}
}

// short caps a client's number in a message: a JSON number may be as long as the body.
func short(s string) string {
	if len(s) <= 40 {
		return s
	}
	return s[:40] + "…"
}
