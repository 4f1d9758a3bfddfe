package config

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/haderos/haderctl/internal/engine/duration"
	"gopkg.in/yaml.v3"
)

// The file decodes into the engine's own types (breaker.Settings,
// queue.Settings, chaos.Limits, health.AlertPolicy), whose zero fields
// mean "the default". Two things those types cannot do are done here, by
// one walk over the document beside the types it decodes into, not by a
// mirror of each type:
//
//   - read every number in the file's forms: a time.Duration field takes
//     every form duration.Duration does ("120s", a number of seconds,
//     never), an int one says "too large" instead of wrapping, a float
//     one refuses infinity;
//   - remember which fields were written (written), so a 0 written in the
//     file is refused by its range check instead of read as the default.

// written maps the path of each field the file (or the environment) set,
// e.g. "services[0].breaker.recovery_timeout", to its value's node (nil
// for the environment).
type written map[string]*yaml.Node

func (w written) has(path string) bool { _, ok := w[path]; return ok }

var (
	durationType    = reflect.TypeFor[time.Duration]()
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
)

// scan walks n beside t: it records the fields written under path,
// rewrites each time.Duration value to the Go form yaml.v3 reads, and
// refuses a key t does not have, a number its field cannot hold and a
// value of the wrong shape (a list for a string, "maybe" for a bool), as a
// duration.NodeError placed at the node, so the message names the field
// and its line (yaml.v3's own type errors name neither).
func scan(n *yaml.Node, t reflect.Type, path string, w written) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if err := scan(c, t, path, w); err != nil {
				return err
			}
		}
		return nil
	case yaml.AliasNode:
		return scan(n.Alias, t, path, w)
	}
	switch {
	case t == durationType:
		var d duration.Duration
		if err := d.UnmarshalYAML(n); err != nil {
			return err
		}
		n.Value, n.Tag, n.Style = time.Duration(d).String(), "!!str", 0
		return nil
	case reflect.PointerTo(t).Implements(unmarshalerType):
		return nil // the type reads its own form
	}
	// a value left empty is the field's zero value, as yaml.v3 reads it
	// (a number's range check, or its reader, says whether that will do)
	null := n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
	switch t.Kind() {
	case reflect.Struct:
		if null {
			return nil
		}
		if n.Kind != yaml.MappingNode {
			return duration.BadNode(n, "must be a mapping of fields, not %s", shape(n))
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				return duration.BadNode(k, "unknown field %q", k.Value)
			}
			p := join(path, k.Value)
			w[p] = v
			if err := scan(v, ft, p, w); err != nil {
				return err
			}
		}
	case reflect.Slice:
		if null {
			return nil
		}
		if n.Kind != yaml.SequenceNode {
			return duration.BadNode(n, "must be a list, not %s", shape(n))
		}
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			w[p] = c
			if err := scan(c, t.Elem(), p, w); err != nil {
				return err
			}
		}
	case reflect.Map:
		if null {
			return nil
		}
		if n.Kind != yaml.MappingNode {
			return duration.BadNode(n, "must be a mapping, not %s", shape(n))
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := scan(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value), w); err != nil {
				return err
			}
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		return scanInt(n)
	case reflect.Float64, reflect.Float32:
		return scanFloat(n)
	case reflect.Bool:
		// yaml.v3's own reading (true, false, and YAML 1.1's yes/no, on/off)
		var b bool
		if !null && (n.Kind != yaml.ScalarNode || n.Decode(&b) != nil) {
			return duration.BadNode(n, "%s is not true or false", shape(n))
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			return duration.BadNode(n, "must be a single value, not %s", shape(n))
		}
	}
	return nil
}

// shape says what a node holds, for a message: its value quoted, or "a
// list" / "a mapping".
func shape(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	return strconv.Quote(n.Value)
}

func scanInt(n *yaml.Node) error {
	_, err := ParseInt(n.Value)
	switch {
	case err == ErrTooLarge:
		return duration.BadNode(n, "%s is too large", n.Value)
	case err != nil || n.Kind != yaml.ScalarNode:
		return duration.BadNode(n, "%q is not a whole number", n.Value)
	}
	return nil
}

func scanFloat(n *yaml.Node) error {
	v, err := strconv.ParseFloat(strings.TrimSpace(n.Value), 64)
	switch {
	case n.Kind != yaml.ScalarNode:
		return duration.BadNode(n, "%q is not a number", n.Value)
	case strings.Contains(strings.ToLower(n.Value), "inf") || math.IsInf(v, 0):
		return duration.BadNode(n, "%s is too large", n.Value)
	case err != nil || math.IsNaN(v):
		return duration.BadNode(n, "%q is not a number", n.Value)
	}
	return nil
}

// yamlFields maps the yaml names of t's fields (inline ones flattened) to
// their types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case name == "-":
			continue
		case strings.Contains(opts, "inline"):
			for k, v := range yamlFields(f.Type) {
				out[k] = v
			}
			continue
		case name == "":
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Printable is v (a configuration, or any part of it) in the form
// `config view` prints: every time.Duration as its Go string ("2m0s")
// in JSON as in YAML, fields in their declared order, a field without a
// json name under its yaml one.
func Printable(v any) any {
	return printable(reflect.ValueOf(v)).Interface()
}

func printable(v reflect.Value) reflect.Value {
	if !v.IsValid() {
		return v
	}
	t := printableType(v.Type())
	if t == v.Type() {
		return v
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return reflect.Zero(t)
		}
		out := reflect.New(t.Elem())
		out.Elem().Set(printable(v.Elem()))
		return out
	case reflect.Struct:
		out := reflect.New(t).Elem()
		j := 0
		for i := range v.NumField() {
			if !v.Type().Field(i).IsExported() {
				continue
			}
			out.Field(j).Set(printable(v.Field(i)))
			j++
		}
		return out
	case reflect.Slice:
		if v.IsNil() {
			return reflect.Zero(t)
		}
		out := reflect.MakeSlice(t, v.Len(), v.Len())
		for i := range v.Len() {
			out.Index(i).Set(printable(v.Index(i)))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return reflect.Zero(t)
		}
		out := reflect.MakeMapWithSize(t, v.Len())
		for it := v.MapRange(); it.Next(); {
			out.SetMapIndex(it.Key(), printable(it.Value()))
		}
		return out
	case reflect.Int64:
		return v.Convert(t)
	}
	return v
}

var printableTypes sync.Map // reflect.Type → reflect.Type

// printableType is t with time.Duration replaced by duration.Duration
// throughout (t itself when it holds none).
func printableType(t reflect.Type) reflect.Type {
	if p, ok := printableTypes.Load(t); ok {
		return p.(reflect.Type)
	}
	p := t
	switch t.Kind() {
	case reflect.Int64:
		if t == durationType {
			p = reflect.TypeFor[duration.Duration]()
		}
	case reflect.Pointer:
		if e := printableType(t.Elem()); e != t.Elem() {
			p = reflect.PointerTo(e)
		}
	case reflect.Slice:
		if e := printableType(t.Elem()); e != t.Elem() {
			p = reflect.SliceOf(e)
		}
	case reflect.Map:
		if e := printableType(t.Elem()); e != t.Elem() {
			p = reflect.MapOf(t.Key(), e)
		}
	case reflect.Struct:
		var fields []reflect.StructField
		changed := false
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				changed = true
				continue
			}
			ft := printableType(f.Type)
			tag := jsonLikeYAML(f.Tag)
			changed = changed || ft != f.Type || tag != f.Tag
			fields = append(fields, reflect.StructField{Name: f.Name, Type: ft, Tag: tag, Anonymous: f.Anonymous})
		}
		if changed {
			p = reflect.StructOf(fields)
		}
	}
	printableTypes.Store(t, p)
	return p
}

// jsonLikeYAML gives a field the json name of its yaml one when it has
// none, and yaml's omitempty (a field left out of a service's overrides
// is not printed as 0 in JSON either).
func jsonLikeYAML(tag reflect.StructTag) reflect.StructTag {
	yname, yopts, _ := strings.Cut(tag.Get("yaml"), ",")
	if yname == "-" {
		return tag
	}
	j, ok := tag.Lookup("json")
	if !ok {
		if yname == "" {
			return tag
		}
		j = yname
	}
	if strings.Contains(yopts, "omitempty") && !strings.Contains(j, "omitempty") && !strings.Contains(j, "omitzero") && j != "-" {
		j += ",omitempty"
	}
	var parts []string
	for _, key := range []string{"yaml"} {
		if v, ok := tag.Lookup(key); ok {
			parts = append(parts, fmt.Sprintf("%s:%q", key, v))
		}
	}
	parts = append(parts, fmt.Sprintf("json:%q", j))
	return reflect.StructTag(strings.Join(parts, " "))
}
