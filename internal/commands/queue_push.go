package commands

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/spf13/cobra"
)

// QueuePushOptions are `haderctl queue push`'s inputs.
type QueuePushOptions struct {
	F           *cmdutil.Factory
	Queue       string
	Operation   string
	Service     string
	Data        string
	Error       string
	Priority    string
	ID          string
	Method      string
	Path        string
	Headers     []string
	MaxAttempts int
	NDJSON      bool
}

// NewCmdQueuePush builds `haderctl queue push`.
func NewCmdQueuePush(f *cmdutil.Factory, runF func(*QueuePushOptions) error) *cobra.Command {
	opts := &QueuePushOptions{F: f}
	cmd := &cobra.Command{
		Use:   "push QUEUE --operation NAME --service NAME [--data JSON|@FILE|-] [flags]",
		Short: "Put a failed operation into a queue (or many, as NDJSON on stdin)",
		Long: `Put a failed operation into QUEUE for later replay. --data is JSON given
inline, @FILE, or - for stdin. --method and --path (or a full URL) store the
HTTP request to replay; the body is the data. Pushing an id that already
exists (pending, dead, or completed within the retention) is a no-op that
says so. With --ndjson, stdin holds one operation per line, as JSON objects
with the fields id, operation, service, data, error, priority,
max_attempts, method, path and headers (method and headers need a path);
they are pushed in pipelined batches, and the flags that describe one
operation cannot be given with it. Input is checked before Redis is
contacted: a bad operation or line exits 2 and nothing is pushed.`,
		Example: `  haderctl queue push orders --operation create_order --service shopify \
      --data '{"order_id": 1042}' --error "HTTP 503" --priority high \
      --id order-1042 --method POST --path /admin/api/orders.json
  haderctl queue push notifications --operation send_sms --service twilio --data @sms.json
  jq -c '.[]' failed.json | haderctl queue push shipping --ndjson`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Queue = args[0]
			// 0 is not "the default" in disguise: leaving the flag out is
			if cmd.Flags().Changed("max-attempts") && opts.MaxAttempts < 1 {
				return cmdutil.UsageErrorf("invalid --max-attempts %d: use at least 1 (leave it out for queue.max_attempts)", opts.MaxAttempts)
			}
			if opts.NDJSON {
				for _, name := range perOperationFlags {
					if cmd.Flags().Changed(name) {
						return cmdutil.UsageErrorf("--%s cannot be used with --ndjson: each stdin line describes its operation (give it there)", name)
					}
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return queuePushRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Operation, "operation", "", "operation name, e.g. create_order")
	fl.StringVar(&opts.Service, "service", "", "the service it calls, e.g. shopify (its breaker guards replays)")
	fl.StringVar(&opts.Data, "data", "", "the operation's data: JSON, @FILE or - for stdin")
	fl.StringVar(&opts.Error, "error", "", "the error that made it fail")
	fl.StringVar(&opts.Priority, "priority", "normal", "critical, high, normal or low")
	fl.StringVar(&opts.ID, "id", "", "idempotency key (default: generated)")
	fl.StringVar(&opts.Method, "method", "", "HTTP method of the replay (default POST when --path is given)")
	fl.StringVar(&opts.Path, "path", "", "path relative to the service's base_url, or a full URL")
	fl.StringArrayVarP(&opts.Headers, "header", "H", nil, "request header 'Name: value' (repeatable; secret ones are redacted in output)")
	fl.IntVar(&opts.MaxAttempts, "max-attempts", 0, "attempts before it is dead, at least 1 (default queue.max_attempts, 10)")
	fl.BoolVar(&opts.NDJSON, "ndjson", false, "read operations from stdin, one JSON object per line")
	return cmd
}

// perOperationFlags describe one operation: --ndjson takes them from each
// line instead.
var perOperationFlags = []string{"operation", "service", "data", "error", "priority", "id",
	"method", "path", "header", "max-attempts"}

// pushLine is one operation in --ndjson input.
type pushLine struct {
	ID          string            `json:"id"`
	Operation   string            `json:"operation"`
	Service     string            `json:"service"`
	Data        json.RawMessage   `json:"data"`
	Error       string            `json:"error"`
	Priority    string            `json:"priority"`
	MaxAttempts *int              `json:"max_attempts"`
	Method      string            `json:"method"`
	Path        string            `json:"path"`
	Headers     map[string]string `json:"headers"`
}

func (l pushLine) operation(q string) (*queue.Operation, error) {
	o := &queue.Operation{ID: l.ID, Queue: q, Operation: l.Operation, Service: l.Service, Data: l.Data,
		Error: l.Error, Priority: queue.Priority(l.Priority)}
	if l.MaxAttempts != nil {
		// given is given: 0 does not quietly become queue.max_attempts
		if *l.MaxAttempts < 1 {
			return nil, fmt.Errorf(`"max_attempts" is %d: use at least 1 (leave it out for queue.max_attempts)`, *l.MaxAttempts)
		}
		o.MaxAttempts = *l.MaxAttempts
	}
	if l.Path == "" {
		// like --method and -H without --path: not silently dropped
		if l.Method != "" || len(l.Headers) > 0 {
			return nil, errors.New(`"method" and "headers" need "path" (a path under the service's base_url, or a URL)`)
		}
		return o, nil
	}
	for k := range l.Headers {
		if strings.TrimSpace(k) == "" {
			return nil, errors.New(`"headers" holds a header without a name`)
		}
	}
	o.Request = &queue.Request{Method: l.Method, URL: l.Path, Headers: l.Headers}
	return o, nil
}

func queuePushRun(ctx context.Context, opts *QueuePushOptions) error {
	f := opts.F
	c, err := f.Config()
	if err != nil {
		return err
	}
	// Bad input is refused before Redis is contacted, so it exits 2 even
	// when Redis is down: Check needs only the settings, not a connection.
	checker := c.Queue
	var ops []*queue.Operation
	if opts.NDJSON {
		if ops, err = readNDJSON(f.IO.In, opts.Queue, checker); err != nil {
			return err
		}
	} else {
		o, err := opts.operation(f.IO.In)
		if err != nil {
			return err
		}
		if err := checker.Check(o); err != nil {
			return err
		}
		ops = []*queue.Operation{o}
	}
	qc, err := f.Queues()
	if err != nil {
		return err
	}
	ctx, cancel := f.RedisContext(ctx)
	defer cancel()
	res, err := qc.Push(ctx, ops)
	if err != nil {
		return f.RedisError(err)
	}
	dups := 0
	for _, r := range res {
		if r.Status == "duplicate" {
			dups++
		}
	}
	if f.JSON() || opts.NDJSON {
		for _, r := range res {
			if err := cmdutil.WriteNDJSON(f.IO.Out, r); err != nil {
				return err
			}
		}
	} else {
		for _, r := range res {
			if r.Status == "duplicate" {
				fmt.Fprintf(f.IO.Out, "%s already in %s (%s): not enqueued again\n", r.ID, r.Queue, r.State)
			} else {
				fmt.Fprintf(f.IO.Out, "enqueued %s in %s\n", r.ID, r.Queue)
			}
		}
	}
	if dups > 0 && (f.JSON() || opts.NDJSON) {
		fmt.Fprintf(f.IO.ErrOut, "haderctl: %d of %d operations were already queued (deduplicated)\n", dups, len(res))
	}
	return nil
}

func (opts *QueuePushOptions) operation(stdin io.Reader) (*queue.Operation, error) {
	if opts.Operation == "" {
		return nil, cmdutil.UsageErrorf("--operation is required (e.g. --operation create_order)")
	}
	if opts.Service == "" {
		return nil, cmdutil.UsageErrorf("--service is required (e.g. --service shopify)")
	}
	data, err := readData(opts.Data, stdin)
	if err != nil {
		return nil, err
	}
	o := &queue.Operation{ID: opts.ID, Queue: opts.Queue, Operation: opts.Operation, Service: opts.Service,
		Data: data, Error: opts.Error, Priority: queue.Priority(opts.Priority), MaxAttempts: opts.MaxAttempts}
	if opts.Method != "" || opts.Path != "" || len(opts.Headers) > 0 {
		if opts.Path == "" {
			return nil, cmdutil.UsageErrorf("--method and --header need --path (a path under the service's base_url, or a URL)")
		}
		h := map[string]string{}
		for _, kv := range opts.Headers {
			k, v, ok := strings.Cut(kv, ":")
			if !ok || strings.TrimSpace(k) == "" {
				// not echoed: a header without a name may be a bare token
				return nil, cmdutil.UsageErrorf("invalid --header (%d characters, no 'Name:' part): use 'Name: value'", len(kv))
			}
			h[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
		o.Request = &queue.Request{Method: opts.Method, URL: opts.Path, Headers: h}
	}
	return o, nil
}

// describeIOError is an I/O error's cause without the path it names
// twice (os.PathError's "read /dev/stdin: is a directory" → "is a directory").
func describeIOError(err error) string {
	if u := errors.Unwrap(err); u != nil {
		return u.Error()
	}
	return err.Error()
}

// readData reads --data: inline JSON, @FILE, or - for stdin.
func readData(v string, stdin io.Reader) (json.RawMessage, error) {
	var b []byte
	switch {
	case v == "":
		return nil, nil
	case v == "-":
		var err error
		if b, err = io.ReadAll(stdin); err != nil {
			// bad input like an unreadable @FILE: exit 2, not an outage
			return nil, cmdutil.UsageErrorf("--data -: reading stdin: %s", describeIOError(err))
		}
	case strings.HasPrefix(v, "@"):
		var err error
		if b, err = os.ReadFile(v[1:]); err != nil {
			return nil, cmdutil.UsageErrorf("--data %s: %s", v, describeIOError(err))
		}
	default:
		b = []byte(v)
	}
	b = bytes.TrimSpace(b)
	if !json.Valid(b) {
		return nil, cmdutil.UsageErrorf("--data is not valid JSON")
	}
	return b, nil
}

// readNDJSON reads --ndjson input: one JSON object per line, nothing else
// on it. A bad line is reported with its number and nothing is pushed.
func readNDJSON(r io.Reader, q string, set queue.Settings) ([]*queue.Operation, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), set.MaxDataBytes+64*1024)
	var ops []*queue.Operation
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		if text[0] != '{' {
			return nil, cmdutil.UsageErrorf("stdin line %d: not a JSON object (one operation per line, e.g. {\"operation\": \"create_order\", \"service\": \"shopify\"})", line)
		}
		var l pushLine
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			return nil, cmdutil.UsageErrorf("stdin line %d: %s", line, jsonProblem(err))
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, cmdutil.UsageErrorf("stdin line %d: more than one JSON value (one operation per line)", line)
		}
		o, err := l.operation(q)
		if err != nil {
			return nil, cmdutil.UsageErrorf("stdin line %d: %s", line, err)
		}
		if err := set.Check(o); err != nil {
			return nil, cmdutil.UsageErrorf("stdin line %d: %s", line, err)
		}
		ops = append(ops, o)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, cmdutil.UsageErrorf("stdin line %d: longer than the %d-byte data limit (queue.max_data_bytes)", line+1, set.MaxDataBytes)
		}
		return nil, err
	}
	if len(ops) == 0 {
		return nil, cmdutil.UsageErrorf("--ndjson: no operations on stdin")
	}
	return ops, nil
}

func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return "not valid JSON: " + se.Error()
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "not valid JSON: the line ends inside the object"
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		// said in JSON's terms, not Go's
		if te.Field == "" {
			return "not a JSON object"
		}
		return fmt.Sprintf("field %q must be %s, not %s", te.Field, jsonKind(te.Type), te.Value)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// jsonKind names what a pushLine field holds, in JSON's terms.
func jsonKind(t reflect.Type) string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a " + t.Kind().String()
}
