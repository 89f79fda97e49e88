package gqlhttp

import (
	"container/list"
	"context"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/lexer"
)

// QueryCacheBytes is how much memory each endpoint's parsed-query cache may hold, counted as
// docCache charges it (see entrySize).
const QueryCacheBytes = 16 << 20

// docCache is gqlgen's parsed-and-validated query cache, bounded in bytes rather than entries
// and keyed by the normalized document. Keyed by the raw text, as gqlgen's LRU is, one
// document padded with a different comment each time is a new entry every time, and each
// entry keeps its whole text (the syntax tree points into it), so a thousand entries can be a
// thousand times any size. Here variants of one document share one entry, and evicting the
// least recently used entries keeps the total under the bound.
type docCache struct {
	max   int64
	mu    sync.Mutex
	bytes int64
	ll    *list.List // of *cacheEntry, most recently used first
	items map[string]*list.Element
	// gauges mirror bytes and the entry count (nil: not exported).
	bytesGauge, entriesGauge prometheus.Gauge
}

type cacheEntry struct {
	key  string
	doc  *ast.QueryDocument
	size int64
}

func newDocCache(maxBytes int64, m *Metrics, schema string) *docCache {
	c := &docCache{max: maxBytes, ll: list.New(), items: map[string]*list.Element{}}
	if m != nil {
		c.bytesGauge = m.cacheBytes.WithLabelValues(schema)
		c.entriesGauge = m.cacheEntries.WithLabelValues(schema)
	}
	return c
}

// Get is gqlgen's lookup before it parses query.
func (c *docCache) Get(ctx context.Context, query string) (*ast.QueryDocument, bool) {
	key, _, ok := documentKey(ctx, query)
	if !ok {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil, false
	}
	c.ll.MoveToFront(el)
	return el.Value.(*cacheEntry).doc, true
}

// Add is gqlgen's store of a document that parsed and validated.
func (c *docCache) Add(ctx context.Context, query string, doc *ast.QueryDocument) {
	key, tokens, ok := documentKey(ctx, query)
	if !ok {
		return
	}
	size := entrySize(query, key, tokens)
	// One huge entry would push out many small hot ones; it is cheaper to parse it again.
	if size > c.max/16 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.ll.MoveToFront(el)
		return
	}
	c.items[key] = c.ll.PushFront(&cacheEntry{key: key, doc: doc, size: size})
	c.bytes += size
	for c.bytes > c.max {
		last := c.ll.Back()
		e := last.Value.(*cacheEntry)
		c.ll.Remove(last)
		delete(c.items, e.key)
		c.bytes -= e.size
	}
	if c.bytesGauge != nil {
		c.bytesGauge.Set(float64(c.bytes))
		c.entriesGauge.Set(float64(len(c.items)))
	}
}

// peek returns the cached document with normalized key without counting it as a use
// (gqlgen's Get right after does).
func (c *docCache) peek(key string) (*ast.QueryDocument, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil, false
	}
	return el.Value.(*cacheEntry).doc, true
}

// size is the bytes the cache holds now, as charged.
func (c *docCache) size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

// astBytesPerToken is what gqlparser's syntax tree takes per token of the document, measured
// (TestCacheChargesWhatParsingAllocates) with room to spare: fields, arguments, positions.
const astBytesPerToken = 192

// entryOverhead covers the list element, map slot and entry struct of one cache entry.
const entryOverhead = 256

// entrySize is what one entry is charged: the text (the syntax tree points into it, comments
// included), the key, and the syntax tree.
func entrySize(query, key string, tokens int) int64 {
	return int64(len(query) + len(key) + tokens*astBytesPerToken + entryOverhead)
}

// documentKey is query's normalized key and token count: the ones the document limits
// computed for this request when it is the same text, else computed now.
func documentKey(ctx context.Context, query string) (string, int, bool) {
	if st := stateOf(ctx); st != nil {
		st.mu.Lock()
		q, key, tokens := st.docQuery, st.docKey, st.docTokens
		st.mu.Unlock()
		if key != "" && q == query {
			return key, tokens, true
		}
	}
	return normalize(query, ParserTokenLimit)
}

// normalize returns a key identifying the document query holds: its tokens without comments
// and insignificant whitespace or commas, so texts that differ only there parse to the same
// document and share the key. Names and numbers keep their text, separated by one space where
// two meet; strings are quoted with strconv.Quote (block strings after a NUL byte, which no
// other token contains), so the key decodes back to one token sequence and two different
// documents never share it. It is only ever compared, never parsed. ok is false when the text
// does not lex or has more than maxTokens tokens (comments counted, as gqlparser counts them):
// gqlgen's parser then reports the error.
func normalize(query string, maxTokens int) (key string, tokens int, ok bool) {
	lex := lexer.New(&ast.Source{Input: query})
	var b strings.Builder
	b.Grow(len(query) / 2)
	prevWord := false
	seen := 0
	for {
		tok, err := lex.ReadToken()
		if err != nil {
			return "", 0, false
		}
		if tok.Kind == lexer.EOF {
			break
		}
		if seen++; seen > maxTokens {
			return "", 0, false
		}
		word := false
		switch tok.Kind {
		case lexer.Comment:
			continue
		case lexer.Name, lexer.Int, lexer.Float:
			if prevWord {
				b.WriteByte(' ')
			}
			b.WriteString(tok.Value)
			word = true
		case lexer.String:
			b.WriteString(strconv.Quote(tok.Value))
		case lexer.BlockString:
			b.WriteByte(0)
			b.WriteString(strconv.Quote(tok.Value))
		case lexer.Spread:
			b.WriteString("...")
		default:
			if int(tok.Kind) < len(punctuator) {
				b.WriteString(punctuator[tok.Kind])
			}
		}
		prevWord = word
		tokens++
	}
	return b.String(), tokens, true
}

// punctuator is the text of each single-character token, by token type.
var punctuator = [...]string{
	lexer.Bang: "!", lexer.Dollar: "$", lexer.Amp: "&", lexer.ParenL: "(", lexer.ParenR: ")",
	lexer.Colon: ":", lexer.Equals: "=", lexer.At: "@", lexer.BracketL: "[", lexer.BracketR: "]",
	lexer.BraceL: "{", lexer.BraceR: "}", lexer.Pipe: "|",
}
