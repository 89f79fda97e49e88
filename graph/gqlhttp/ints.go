package gqlhttp

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// Integers are checked the same way whether they are written in the document or sent as
// variables. gqlparser checks neither range: an Int literal or variable of 2147483648 reached
// resolvers as a Go int, and an Int64 literal past int64 failed with a message quoting the
// whole input object. Its variable errors also speak Go ("cannot use string as Int" for a
// JSON 1.5). So:
//   - Int is a 32-bit integer (the GraphQL specification's range): anything else, literal or
//     variable, is GRAPHQL_VALIDATION_FAILED before execution, as gqlparser's own Int errors are;
//   - Int64 out of int64's range is the same; any other bad Int64 (a fraction, a string) is the
//     scalar's BAD_USER_INPUT at execution (graph/scalar), again for literals and variables alike.

// validationRules returns gqlgen's rule set for one validation: gqlparser's default rules plus
// integerRanges. gqlgen asks for it once per document it validates, so it also counts
// validations on the metric (the proof, in tests, that a refused document never got there).
func validationRules(m *Metrics, schema string) func() *rules.Rules {
	return func() *rules.Rules {
		if m != nil {
			m.validations.WithLabelValues(schema).Inc()
		}
		r := rules.NewDefaultRules()
		r.AddRule(integerRanges.Name, integerRanges.RuleFunc)
		return r
	}
}

// integerRanges is the validation rule for integer literals out of their type's range.
var integerRanges = core.Rule{
	Name: "IntegerRanges",
	RuleFunc: func(observers *core.Events, addError core.AddErrFunc) {
		observers.OnValue(func(_ *core.Walker, v *ast.Value) {
			if v.Definition == nil || v.Kind != ast.IntValue {
				return
			}
			if bits, ok := integerBits[v.Definition.Name]; ok {
				if _, err := strconv.ParseInt(v.Raw, 10, bits); err != nil {
					addError(core.Message("%s", rangeMessage(v.Definition.Name, v.Raw)), core.At(v.Position))
				}
			}
		})
	},
}

// integerBits are the integer scalars and their widths.
var integerBits = map[string]int{"Int": 32, "Int64": 64}

func rangeMessage(scalar, raw string) string {
	return fmt.Sprintf("%s cannot represent non %d-bit signed integer value: %s", scalar, integerBits[scalar], truncate(raw, 64))
}

// checkIntVariables checks the raw variables of op (decoded with json.Number) at every Int
// and Int64 position its variable definitions declare, through lists and input objects. It
// runs before gqlparser coerces variables, so these errors are the ones clients see. A type
// the schema does not know, or an operation that is missing, is left to validation.
func checkIntVariables(schema *ast.Schema, op *ast.OperationDefinition, vars map[string]any) *gqlerror.Error {
	if op == nil || schema == nil {
		return nil
	}
	for _, vd := range op.VariableDefinitions {
		v, ok := vars[vd.Variable]
		if !ok || vd.Type == nil {
			continue
		}
		if msg, at := checkIntValue(schema, vd.Type, v, vd.Variable); msg != "" {
			err := gqlerror.Errorf("Variable \"$%s\" has an invalid value at %s: %s", vd.Variable, truncate(at, 200), msg)
			err.Path = ast.Path{ast.PathName("variable"), ast.PathName(vd.Variable)}
			errcode.Set(err, errcode.ValidationFailed)
			return err
		}
	}
	return nil
}

// checkIntValue returns what is wrong with v as a value of type t, and where (a path below
// the variable), or "" when nothing integer-related is.
func checkIntValue(schema *ast.Schema, t *ast.Type, v any, at string) (string, string) {
	if v == nil {
		return "", ""
	}
	if t.Elem != nil {
		list, ok := v.([]any)
		if !ok {
			return checkIntValue(schema, t.Elem, v, at) // one value stands for a list of it
		}
		for i, e := range list {
			if msg, where := checkIntValue(schema, t.Elem, e, at+"["+strconv.Itoa(i)+"]"); msg != "" {
				return msg, where
			}
		}
		return "", ""
	}
	def := schema.Types[t.NamedType]
	if def == nil {
		return "", ""
	}
	if def.Kind == ast.InputObject {
		m, ok := v.(map[string]any)
		if !ok {
			return "", ""
		}
		for _, f := range def.Fields {
			if fv, ok := m[f.Name]; ok {
				if msg, where := checkIntValue(schema, f.Type, fv, at+"."+f.Name); msg != "" {
					return msg, where
				}
			}
		}
		return "", ""
	}
	switch def.Name {
	case "Int":
		return intMessage(v), at
	case "Int64":
		// Only the range: the scalar refuses fractions and strings at execution, as it does
		// for literals.
		if n, ok := v.(json.Number); ok && isIntegerSyntax(string(n)) {
			if _, err := strconv.ParseInt(string(n), 10, 64); err != nil {
				return rangeMessage("Int64", string(n)), at
			}
		}
	}
	return "", ""
}

// intMessage is what is wrong with v as an Int, or "".
func intMessage(v any) string {
	switch n := v.(type) {
	case json.Number:
		if !isIntegerSyntax(string(n)) {
			return "Int cannot represent non-integer value: " + truncate(string(n), 64)
		}
		if _, err := strconv.ParseInt(string(n), 10, 32); err != nil {
			return rangeMessage("Int", string(n))
		}
		return ""
	case int64:
		if int64(int32(n)) != n {
			return rangeMessage("Int", strconv.FormatInt(n, 10))
		}
		return ""
	case int:
		if int(int32(n)) != n {
			return rangeMessage("Int", strconv.Itoa(n))
		}
		return ""
	case int32:
		return ""
	}
	return "Int cannot represent non-integer value: " + describeJSON(v)
}

// isIntegerSyntax reports whether a JSON number is written as an integer: no fraction, no
// exponent (100.0 and 1e2 are Floats in GraphQL, whatever their value).
func isIntegerSyntax(n string) bool {
	return n != "" && !strings.ContainsAny(n, ".eE")
}

// describeJSON shows a client's value in a message, briefly.
func describeJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "a value that is not JSON"
	}
	return truncate(string(b), 64)
}
