package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"
)

// Messages of the invalid_json answers.
const (
	msgNotObject = "Request body must be a JSON object"
	msgBadFields = "Request body must be a JSON object with the documented fields"
	msgTrailing  = "Request body must be a single JSON object"
	msgDuplicate = "Request body must not repeat a member name"
)

// problem is a request the client got wrong, as it will be answered.
type problem struct {
	status      int
	code, msg   string
	validations map[string]string // a validation_failed answer when set
}

func (p *problem) write(w http.ResponseWriter) {
	if p.validations != nil {
		WriteValidation(w, p.validations)
		return
	}
	WriteError(w, p.status, p.code, p.msg)
}

func invalidJSON(msg string) *problem {
	return &problem{status: http.StatusBadRequest, code: "invalid_json", msg: msg}
}

// DecodeObject reads the request body, which must be exactly one JSON
// object, and returns its members undecoded, for handlers that check each
// member's type themselves. On a bad body it answers the error itself
// (415, 413 or 400 invalid_json) and reports false.
//
// The body must already be bounded by http.MaxBytesReader, as the server's
// middleware does for every route.
func DecodeObject(w http.ResponseWriter, r *http.Request) (map[string]json.RawMessage, bool) {
	_, obj, p := readObject(r)
	if p != nil {
		p.write(w)
		return nil, false
	}
	return obj, true
}

// Decode reads the request body, which must be exactly one JSON object,
// into dst, a pointer to a struct. Members that match no json name of the
// struct are refused together in one validation answer, each as
// "not_allowed", so the client learns every mistake at once. Names must
// match exactly, not case-folded as encoding/json would: "Email" and
// "email" could otherwise both land on one field, and which one wins would
// be up to the decoder. Unknown members of nested objects, and members of
// the wrong type, are 400 invalid_json. On a bad body Decode answers the
// error itself and reports false, with dst possibly half filled; see
// DecodeObject.
func Decode(w http.ResponseWriter, r *http.Request, dst any) bool {
	t := reflect.TypeOf(dst)
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("httpapi.Decode: dst must be a pointer to a struct, not %T", dst))
	}
	body, obj, p := readObject(r)
	if p == nil {
		p = decodeStruct(body, obj, t.Elem(), dst)
	}
	if p != nil {
		p.write(w)
		return false
	}
	return true
}

func decodeStruct(body []byte, obj map[string]json.RawMessage, t reflect.Type, dst any) *problem {
	known := map[string]bool{}
	jsonNames(t, known)
	unknown := map[string]string{}
	for k := range obj {
		if !known[k] {
			unknown[k] = "not_allowed"
		}
	}
	if len(unknown) > 0 {
		return &problem{validations: unknown}
	}
	// The top level is known to be clean; this catches wrong types and
	// unknown members deeper down.
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return invalidJSON(msgBadFields)
	}
	return nil
}

// readObject is the one place a JSON request body is read and checked, so
// a new rule about what a well-formed body is (such as refusing duplicate
// members) is added here and holds for every handler of both APIs.
func readObject(r *http.Request) ([]byte, map[string]json.RawMessage, *problem) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		// A malformed parameter still leaves the media type readable.
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" {
			return nil, nil, &problem{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type",
				msg: "Content-Type must be application/json"}
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, nil, &problem{status: http.StatusRequestEntityTooLarge, code: "body_too_large", msg: "Request body too large"}
		}
		// The client stopped sending halfway: its request, not our fault.
		return nil, nil, invalidJSON(msgNotObject)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.Is(err, io.EOF) || errors.As(err, &ute) {
			return nil, nil, invalidJSON(msgNotObject) // empty, or an array, string, number
		}
		return nil, nil, invalidJSON(msgBadFields)
	}
	if obj == nil {
		return nil, nil, invalidJSON(msgNotObject) // null
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, nil, invalidJSON(msgTrailing)
	}
	if name, dup := duplicateMember(body); dup {
		p := invalidJSON(msgDuplicate)
		p.msg += fmt.Sprintf(" (%q)", truncate(name, 64))
		return nil, nil, p
	}
	// encoding/json reads invalid UTF-8 as U+FFFD, so a handler would act
	// on, and store, another text than the client sent (RFC 8259 requires
	// UTF-8). Each member holding such bytes is refused by name.
	bad := map[string]string{}
	for k, v := range obj {
		if !utf8.Valid(v) {
			bad[k] = "invalid"
		}
	}
	if len(bad) > 0 {
		return nil, nil, &problem{validations: bad}
	}
	return body, obj, nil
}

// duplicateMember reports the first member name that occurs twice in one
// object anywhere in body, which is known to be valid JSON. encoding/json
// keeps the last of two equal members while other parsers keep the first,
// so a body with both would mean one thing to a proxy or WAF in front of
// us and another to us; RFC 8259 leaves it undefined, and we refuse it.
// encoding/json has no option for this (json/v2 has, behind
// GOEXPERIMENT), hence the walk over its tokens.
func duplicateMember(body []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	// One frame per open object or array: the names seen so far in an
	// object (nil for an array), and whether the next token is a name.
	type frame struct {
		names    map[string]bool
		wantName bool
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false // io.EOF; anything else was refused before
		}
		top := len(stack) - 1
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{':
				stack = append(stack, frame{names: map[string]bool{}, wantName: true})
			case '[':
				stack = append(stack, frame{})
			default:
				stack = stack[:top]
				if top > 0 && stack[top-1].names != nil {
					stack[top-1].wantName = true
				}
			}
			continue
		}
		if top < 0 || stack[top].names == nil {
			continue // a value in an array
		}
		if stack[top].wantName {
			name := tok.(string)
			if stack[top].names[name] {
				return name, true
			}
			stack[top].names[name] = true
			stack[top].wantName = false
			continue
		}
		stack[top].wantName = true // a scalar value ends the member
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// jsonNames adds to names every member name encoding/json would decode
// into a struct of type t, including those promoted from embedded structs.
func jsonNames(t reflect.Type, names map[string]bool) {
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				jsonNames(ft, names)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names[name] = true
	}
}
