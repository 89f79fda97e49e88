package gqlhttp

import (
	"context"
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
)

// The limits a document must keep before it is validated. Validation is the expensive step a
// client controls without a token: comparing fields that share a response name is quadratic
// (15,000 copies of one field cost ~10 s of CPU), and nothing interrupts it. Every limit here
// is counted on the parsed document in time linear in its size, and a document over one is
// refused with COMPLEXITY_LIMIT_EXCEEDED before validation starts.
const (
	// MaxDocumentBytes is the longest document text accepted; real documents are a few KB
	// (GraphiQL's introspection query is 2 KB).
	MaxDocumentBytes = 64 << 10
	// MaxSelectionWidth is the most fields one selection set may hold, aliases and the fields
	// of its fragments included.
	MaxSelectionWidth = 100
	// MaxDepth is how deeply fields may nest, fragments inlined (GraphiQL's introspection
	// query nests 14 deep).
	MaxDepth = 15
	// MaxSelections is the most fields, fragment spreads and inline fragments validation may
	// have to walk: every operation with its fragments inlined, plus every fragment on its own.
	// One operation of more than ComplexityLimit fields fails its cost check anyway.
	MaxSelections = 5000
	// MaxIntrospectionFields is how many __schema and __type fields one document may select:
	// each answers the whole schema or a type of it, so copies only multiply the answer.
	MaxIntrospectionFields = 3
	// MaxFieldComparisons bounds the work of validation's overlapping-fields check: it compares
	// every pair of fields with the same response path, again at each enclosing level. The
	// walk counts those pairs, each weighted by its depth; distinct fields cost nothing, so
	// real documents stay near zero, and at this bound validation still takes milliseconds.
	MaxFieldComparisons = 20_000
)

// preflight is the gqlgen extension that runs between APQ (which may have put the document
// text in place) and gqlgen's own parse and validation: it enforces the limits above, and
// checks Int and Int64 variables (see checkIntVariables).
type preflight struct {
	schema  string
	cache   *docCache
	metrics *Metrics
	types   *ast.Schema
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = &preflight{}

func (*preflight) ExtensionName() string { return "Preflight" }

func (p *preflight) Validate(es graphql.ExecutableSchema) error {
	p.types = es.Schema()
	return nil
}

// MutateOperationParameters runs before gqlgen parses. A document already in the query cache
// passed the limits when it was added and is not walked again. A document that does not parse
// is left to gqlgen, whose parser reports the error with its code; the limits only need a
// syntax tree to count.
func (p *preflight) MutateOperationParameters(ctx context.Context, raw *graphql.RawParams) *gqlerror.Error {
	if len(raw.Query) > MaxDocumentBytes {
		return p.refused(&limitError{limit: "bytes",
			msg: fmt.Sprintf("the document is %d bytes long, more than the limit of %d", len(raw.Query), MaxDocumentBytes)})
	}
	key, tokens, ok := normalize(raw.Query, ParserTokenLimit)
	if !ok {
		return nil
	}
	stateOf(ctx).rememberDocument(raw.Query, key, tokens)
	doc, cached := p.cache.peek(key)
	if !cached {
		var err error
		if doc, err = parser.ParseQueryWithTokenLimit(&ast.Source{Input: raw.Query}, ParserTokenLimit); err != nil {
			return nil
		}
		if lerr := checkLimits(doc); lerr != nil {
			return p.refused(lerr)
		}
	}
	return checkIntVariables(p.types, doc.Operations.ForName(raw.OperationName), raw.Variables)
}

func (p *preflight) refused(e *limitError) *gqlerror.Error {
	if p.metrics != nil {
		p.metrics.refused.WithLabelValues(p.schema, e.limit).Inc()
	}
	return e.gqlError()
}

// limitError is a document refused by one of the limits; limit labels the refusal metric.
type limitError struct {
	limit string
	msg   string
	// cycle: the document is invalid rather than too big.
	cycle bool
}

func (e *limitError) gqlError() *gqlerror.Error {
	err := gqlerror.Errorf("%s", e.msg)
	if e.cycle {
		errcode.Set(err, errcode.ValidationFailed)
	} else {
		errcode.Set(err, string(codeComplexity))
	}
	return err
}

const codeComplexity = "COMPLEXITY_LIMIT_EXCEEDED"

// checkLimits walks doc as validation will, fragments inlined at every spread, and reports the
// first limit it breaks. The walk stops at MaxSelections visits, so it costs at most that much
// whatever the document: fragments spreading each other twice per level cannot make it
// exponential.
func checkLimits(doc *ast.QueryDocument) *limitError {
	w := walks.Get().(*limitWalk)
	defer func() {
		*w = limitWalk{paths: w.paths, counts: w.counts[:0], active: w.active}
		clear(w.paths)
		clear(w.active)
		walks.Put(w)
	}()
	w.doc = doc
	for _, op := range doc.Operations {
		w.definition(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		w.definition(f.SelectionSet)
	}
	return w.err
}

// walks are reused: growing the path map anew for every document was most of a walk's cost.
var walks = sync.Pool{New: func() any { return &limitWalk{paths: map[pathKey]int32{}, active: map[string]bool{}} }}

// limitWalk is one pass of checkLimits.
type limitWalk struct {
	doc *ast.QueryDocument
	err *limitError
	// visits counts fields, spreads and inline fragments walked so far.
	visits        int
	introspection int
	comparisons   int
	// paths numbers each response path (a parent path and a response name) and counts the
	// fields at it; counts[id] is how many fields the path has.
	paths  map[pathKey]int32
	counts []int32
	// active are the fragments being inlined, to catch a fragment that spreads itself.
	active map[string]bool
}

type pathKey struct {
	parent int32
	name   string
}

func (w *limitWalk) fail(limit, format string, args ...any) {
	if w.err == nil {
		w.err = &limitError{limit: limit, msg: fmt.Sprintf(format, args...)}
	}
}

// definition walks an operation or a fragment on its own, as validation does: its paths are
// its own, since fields of different definitions are never compared.
func (w *limitWalk) definition(set ast.SelectionSet) {
	if w.err != nil {
		return
	}
	root := w.newPath(-1, "")
	width := 0
	w.collect(set, root, 1, &width)
}

func (w *limitWalk) newPath(parent int32, name string) int32 {
	id := int32(len(w.counts))
	w.counts = append(w.counts, 0)
	if parent >= 0 {
		w.paths[pathKey{parent, name}] = id
	}
	return id
}

// collect walks the selections of one selection set at depth, counting into width the fields
// that end up in it: its own, and those of its inline fragments and spread fragments, since
// validation merges them all into one set.
func (w *limitWalk) collect(set ast.SelectionSet, path int32, depth int, width *int) {
	for _, sel := range set {
		if w.err != nil {
			return
		}
		if w.visits++; w.visits > MaxSelections {
			w.fail("selections", "the document has more than %d selections (fields, fragment spreads and inline fragments, fragments counted at every use)", MaxSelections)
			return
		}
		switch s := sel.(type) {
		case *ast.Field:
			if *width++; *width > MaxSelectionWidth {
				w.fail("width", "a selection set holds more than %d fields (aliases and fragments included)", MaxSelectionWidth)
				return
			}
			if depth > MaxDepth {
				w.fail("depth", "fields nest more than %d levels deep", MaxDepth)
				return
			}
			if s.Name == "__schema" || s.Name == "__type" {
				if w.introspection++; w.introspection > MaxIntrospectionFields {
					w.fail("introspection", "the document selects __schema or __type more than %d times", MaxIntrospectionFields)
					return
				}
			}
			child := w.field(path, s.Alias, depth)
			if w.err == nil && len(s.SelectionSet) > 0 {
				childWidth := 0
				w.collect(s.SelectionSet, child, depth+1, &childWidth)
			}
		case *ast.InlineFragment:
			w.collect(s.SelectionSet, path, depth, width)
		case *ast.FragmentSpread:
			def := w.doc.Fragments.ForName(s.Name)
			if def == nil {
				continue // validation reports the unknown fragment
			}
			if w.active[s.Name] {
				w.fail("cycle", "fragment %s spreads itself", truncate(s.Name, 64))
				w.err.cycle = true
				return
			}
			w.active[s.Name] = true
			w.collect(def.SelectionSet, path, depth, width)
			delete(w.active, s.Name)
		}
	}
}

// field counts one more field with responseName under path and charges the comparisons it
// adds: one with each field already at that response path, at each of its depth levels.
func (w *limitWalk) field(path int32, responseName string, depth int) int32 {
	k := pathKey{path, responseName}
	id, ok := w.paths[k]
	if !ok {
		id = w.newPath(path, responseName)
	}
	w.comparisons += int(w.counts[id]) * depth
	w.counts[id]++
	if w.comparisons > MaxFieldComparisons {
		w.fail("duplicates", "the document repeats fields with the same response name too often (validation would compare more than %d pairs of them); remove the duplicates", MaxFieldComparisons)
	}
	return id
}

// truncate caps s for messages and logs: a client chooses it and may make it any length.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut-- // never split a character: the log and JSON would get invalid UTF-8
	}
	return fmt.Sprintf("%s… (%d bytes)", s[:cut], len(s))
}
