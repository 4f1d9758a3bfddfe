package redact

import (
	"bytes"
	"encoding/json"
)

// JSON masks the values of object fields with secret names (IsSecretName)
// anywhere in a JSON document. Input that is not JSON comes back masked
// whole: nothing in it can be vouched for.
func JSON(raw []byte) []byte {
	if len(raw) == 0 {
		return raw
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		out, _ := json.Marshal(Mask)
		return out
	}
	if !maskSecrets(v) {
		return raw
	}
	out, err := json.Marshal(v)
	if err != nil {
		m, _ := json.Marshal(Mask)
		return m
	}
	return out
}

// maskSecrets masks in place and reports whether it changed anything.
func maskSecrets(v any) bool {
	changed := false
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if IsSecretName(k) {
				x[k] = Mask
				changed = true
			} else if maskSecrets(val) {
				changed = true
			}
		}
	case []any:
		for _, val := range x {
			if maskSecrets(val) {
				changed = true
			}
		}
	}
	return changed
}

// JSONSecrets lists the values of object fields with secret names
// (IsSecretName) anywhere in a JSON document, each as it would appear in
// text: a string's content, a number's digits. A value that is an object
// or an array gives its scalars. Input that is not JSON gives nothing.
func JSONSecrets(raw []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil
	}
	var out []string
	collectSecrets(v, false, &out)
	return out
}

func collectSecrets(v any, secret bool, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			collectSecrets(val, secret || IsSecretName(k), out)
		}
	case []any:
		for _, val := range x {
			collectSecrets(val, secret, out)
		}
	case string:
		if secret {
			*out = append(*out, x)
		}
	case json.Number:
		if secret {
			*out = append(*out, x.String())
		}
	}
}
