package gqlhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/springwallet/wallet/services/errs"
)

// DefaultMaxBodyBytes is the request body limit when Options.MaxBodyBytes is 0: a document,
// its variables and extensions fit in a few KB; a registerDocuments batch in a few hundred.
const DefaultMaxBodyBytes = 256 << 10

// The wallet's own HTTP transports replace gqlgen's POST and GET: gqlgen's read a body of any
// size, echo an undecodable body whole in the error (which the error presenter then logged
// as INTERNAL), answer a mutation over GET with 406 and no code, and send "data": null with
// errors raised before execution. These read at most the body limit, answer every malformed
// request with a coded error and the GraphQL-over-HTTP status, and leave "data" out when
// nothing was executed, as the GraphQL specification says.

const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// postTransport serves POST requests with a JSON body.
type postTransport struct{ maxBody int64 }

func (postTransport) Supports(r *http.Request) bool {
	return r.Method == http.MethodPost && r.Header.Get("Upgrade") == ""
}

func (t postTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	ct := responseType(r)
	w.Header().Set("Content-Type", ct)
	start := graphql.Now()
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != mediaJSON {
		requestError(ctx, w, exec, http.StatusUnsupportedMediaType, "a POST body must be JSON sent with Content-Type: application/json")
		return
	}
	if r.ContentLength > t.maxBody {
		// Refused before reading a byte of it; the connection is closed rather than drained.
		w.Header().Set("Connection", "close")
		requestError(ctx, w, exec, http.StatusRequestEntityTooLarge, tooLargeMessage(t.maxBody))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, t.maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			requestError(ctx, w, exec, http.StatusRequestEntityTooLarge, tooLargeMessage(t.maxBody))
			return
		}
		// The client went away or sent too slowly for the server's read timeout.
		w.Header().Set("Connection", "close")
		requestError(ctx, w, exec, http.StatusBadRequest, "the request body could not be read")
		return
	}
	params, msg := decodeBody(body)
	if msg != "" {
		requestError(ctx, w, exec, http.StatusBadRequest, msg)
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	execute(ctx, w, exec, params, ct, false)
}

func tooLargeMessage(limit int64) string {
	return "the request body is larger than the limit of " + formatBytes(limit)
}

// getTransport serves queries sent as GET with URL parameters.
type getTransport struct{}

func (getTransport) Supports(r *http.Request) bool {
	return r.Method == http.MethodGet && r.Header.Get("Upgrade") == ""
}

func (getTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	ct := responseType(r)
	w.Header().Set("Content-Type", ct)
	start := graphql.Now()
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		requestError(ctx, w, exec, http.StatusBadRequest, "the URL's query string is malformed")
		return
	}
	params := &graphql.RawParams{Query: q.Get("query"), OperationName: q.Get("operationName"), Headers: r.Header}
	for _, o := range []struct {
		name string
		dst  *map[string]any
	}{{"variables", &params.Variables}, {"extensions", &params.Extensions}} {
		if v := q.Get(o.name); v != "" {
			m, ok := decodeObject([]byte(v))
			if !ok {
				requestError(ctx, w, exec, http.StatusBadRequest, o.name+" must be a JSON object")
				return
			}
			*o.dst = m
		}
	}
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	execute(ctx, w, exec, params, ct, true)
}

// otherMethods answers every method the endpoint does not serve (PUT, DELETE, ...).
type otherMethods struct{}

func (otherMethods) Supports(*http.Request) bool { return true }

func (otherMethods) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	w.Header().Set("Content-Type", responseType(r))
	w.Header().Set("Allow", "GET, POST, OPTIONS")
	msg := "send GraphQL requests with POST, or queries with GET"
	if r.Header.Get("Upgrade") != "" {
		msg = "this endpoint does not upgrade connections; " + msg
	}
	requestError(r.Context(), w, exec, http.StatusMethodNotAllowed, msg)
}

// execute runs one decoded request. get refuses anything but a query: GET must be safe, so a
// mutation over it is 405, as GraphQL-over-HTTP says.
func execute(ctx context.Context, w http.ResponseWriter, exec graphql.GraphExecutor, params *graphql.RawParams, ct string, get bool) {
	opCtx, list := exec.CreateOperationContext(ctx, params)
	if list != nil {
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), list)
		writeResponse(w, requestErrorStatus(list, ct), resp, false)
		return
	}
	if get && opCtx.Operation.Operation != ast.Query {
		w.Header().Set("Allow", "POST")
		requestError(graphql.WithOperationContext(ctx, opCtx), w, exec, http.StatusMethodNotAllowed,
			"only queries may be sent with GET; send a "+string(opCtx.Operation.Operation)+" with POST")
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, opCtx)
	resp := responses(ctx)
	if resp == nil {
		// The request's context ended before execution could answer (its deadline passed).
		resp = &graphql.Response{Errors: gqlerror.List{{
			Message:    "the request timed out (request " + RequestID(ctx) + ")",
			Extensions: map[string]any{"code": string(errs.Internal), "requestId": RequestID(ctx)},
		}}}
		writeResponse(w, http.StatusServiceUnavailable, resp, false)
		return
	}
	writeResponse(w, http.StatusOK, resp, true)
}

// requestError answers a request refused before it could be executed with one
// BAD_USER_INPUT error. It goes through the executor's response middleware like any
// answer, so metrics count it.
func requestError(ctx context.Context, w http.ResponseWriter, exec graphql.GraphExecutor, status int, msg string) {
	err := &gqlerror.Error{Message: msg}
	errcode.Set(err, string(errs.BadUserInput))
	writeResponse(w, status, exec.DispatchError(ctx, gqlerror.List{err}), false)
}

// requestErrorStatus is the GraphQL-over-HTTP status for errors raised before execution:
// invalid parameters (BAD_USER_INPUT: an APQ hash that does not match its query, say) are
// 400; a document that fails to parse or validate, or is refused for its cost, is 400 with
// application/graphql-response+json and 200 with application/json; anything else (a
// persisted query not found yet) is 200, so clients read the error and retry.
func requestErrorStatus(list gqlerror.List, ct string) int {
	for _, e := range list {
		if c, _ := e.Extensions["code"].(string); c == string(errs.BadUserInput) {
			return http.StatusBadRequest
		}
	}
	if ct == mediaGraphQLResponse && errcode.GetErrorKind(list) == errcode.KindProtocol {
		return http.StatusBadRequest
	}
	return http.StatusOK
}

// requestErrorBody is a response without "data": errors raised before execution.
type requestErrorBody struct {
	Errors     gqlerror.List  `json:"errors"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

func writeResponse(w http.ResponseWriter, status int, resp *graphql.Response, withData bool) {
	var b []byte
	var err error
	if withData {
		b, err = json.Marshal(resp)
	} else {
		b, err = json.Marshal(requestErrorBody{Errors: resp.Errors, Extensions: resp.Extensions})
	}
	if err != nil {
		// Only a resolver's value that JSON cannot hold gets here; say so without detail.
		status = http.StatusInternalServerError
		b = []byte(`{"errors":[{"message":"internal error: the response could not be encoded","extensions":{"code":"INTERNAL"}}]}`)
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// decodeBody reads a POST body: a JSON object whose query and operationName are strings and
// whose variables and extensions are objects, each optional or null. msg says what is wrong
// with a body that is not one, in terms of the request and never repeating it: it may be
// anything and of any size up to the limit.
func decodeBody(body []byte) (*graphql.RawParams, string) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, "the request body is empty; send a JSON object with a query"
	}
	if trimmed[0] != '{' {
		return nil, "the request body must be a JSON object with a query, not " + jsonKind(trimmed)
	}
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(&fields); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, "the request body is not valid JSON (at byte " + itoa(syn.Offset+int64(len(body)-len(trimmed))) + ")"
		}
		return nil, "the request body is not valid JSON"
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, "the request body has more after its JSON object"
	}
	p := &graphql.RawParams{}
	for _, s := range []struct {
		name string
		dst  *string
	}{{"query", &p.Query}, {"operationName", &p.OperationName}} {
		raw, ok := fields[s.name]
		if !ok || isNull(raw) {
			continue
		}
		if raw[0] != '"' || json.Unmarshal(raw, s.dst) != nil {
			return nil, s.name + " must be a string, not " + jsonKind(raw)
		}
	}
	for _, o := range []struct {
		name string
		dst  *map[string]any
	}{{"variables", &p.Variables}, {"extensions", &p.Extensions}} {
		raw, ok := fields[o.name]
		if !ok || isNull(raw) {
			continue
		}
		m, ok := decodeObject(raw)
		if !ok {
			return nil, o.name + " must be a JSON object, not " + jsonKind(raw)
		}
		*o.dst = m
	}
	return p, ""
}

// decodeObject decodes a JSON object, numbers kept as json.Number so that Int64 values are
// exact and the scalars can tell 100 from 100.0.
func decodeObject(raw []byte) (map[string]any, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil {
		return nil, false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, false
	}
	return m, true
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// jsonKind names the JSON value v starts with, for messages.
func jsonKind(v []byte) string {
	switch {
	case len(v) == 0:
		return "nothing"
	case v[0] == '[':
		return "an array"
	case v[0] == '"':
		return "a string"
	case bytes.HasPrefix(v, []byte("true")) || bytes.HasPrefix(v, []byte("false")):
		return "a boolean"
	case bytes.HasPrefix(v, []byte("null")):
		return "null"
	case v[0] == '-' || (v[0] >= '0' && v[0] <= '9'):
		return "a number"
	case v[0] == '{':
		return "an object"
	default:
		return "something that is not JSON"
	}
}

// responseType picks the response media type from Accept as gqlgen does: the first of
// application/json (also for */*, application/* and no Accept) and
// application/graphql-response+json it names; application/graphql-response+json otherwise.
func responseType(r *http.Request) string {
	accept := r.Header.Get("Accept")
	if accept == "" {
		return mediaJSON
	}
	for part := range strings.SplitSeq(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "*/*", "application/*", mediaJSON:
			return mediaJSON
		case mediaGraphQLResponse:
			return mediaGraphQLResponse
		}
	}
	return mediaGraphQLResponse
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return itoa(n>>20) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return itoa(n>>10) + " KiB"
	}
	return itoa(n) + " bytes"
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
