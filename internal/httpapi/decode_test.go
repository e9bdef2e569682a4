package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/manacore/mana-core-auth/internal/httpapi"
)

type Device struct {
	DeviceID string `json:"deviceId"`
}

type Client struct {
	Name string `json:"name"`
}

type loginInput struct {
	Email    string  `json:"email"`
	Client   *Client `json:"client"`
	Password string  `json:"password,omitempty"`
	Remember *bool   `json:"remember"`
	Device           // promoted: deviceId
	Plain    string  // no tag: decoded as "Plain"
	Internal string  `json:"-"`
	//lint:ignore U1000 present to show JSON never reaches an unexported field
	secret string
}

// request builds a POST with body and the Content-Type ct ("" for none),
// bounded at limit bytes as the server's middleware bounds every body.
func request(body, ct string, limit int64) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/api/v1/auth/login", strings.NewReader(body))
	if ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, limit)
	return r
}

// badBody is a way a body fails before its members are looked at;
// Decode and DecodeObject answer each the same.
type badBody struct {
	name, body, ct string
	status         int
	code, msg      string
}

func badBodies() []badBody {
	return []badBody{
		{"text content type", `{"email":"a"}`, "text/plain", 415, "unsupported_media_type", "Content-Type must be application/json"},
		{"form content type", "email=a", "application/x-www-form-urlencoded", 415, "unsupported_media_type", ""},
		{"json prefix only", `{"email":"a"}`, "application/jsonx", 415, "unsupported_media_type", ""},
		{"unparsable content type", `{"email":"a"}`, ";", 415, "unsupported_media_type", ""},
		{"too large", `{"email":"` + strings.Repeat("a", 200) + `"}`, "application/json", 413, "body_too_large", "Request body too large"},
		{"empty", "", "application/json", 400, "invalid_json", "Request body must be a JSON object"},
		{"blank", " \n\t", "", 400, "invalid_json", "Request body must be a JSON object"},
		{"null", "null", "", 400, "invalid_json", "Request body must be a JSON object"},
		{"array", `[{"email":"a"}]`, "", 400, "invalid_json", "Request body must be a JSON object"},
		{"string", `"x"`, "", 400, "invalid_json", "Request body must be a JSON object"},
		{"number", `1`, "", 400, "invalid_json", "Request body must be a JSON object"},
		{"garbage", "{{{not json", "", 400, "invalid_json", "Request body must be a JSON object with the documented fields"},
		{"truncated", `{"email":"a"`, "", 400, "invalid_json", "Request body must be a JSON object with the documented fields"},
		{"two objects", `{}{}`, "", 400, "invalid_json", "Request body must be a single JSON object"},
		{"trailing garbage", `{"email":"a"} x`, "", 400, "invalid_json", "Request body must be a single JSON object"},
		{"trailing bracket", `{"email":"a"}]`, "", 400, "invalid_json", "Request body must be a single JSON object"},
		{"duplicate member", `{"email":"a","email":"b"}`, "", 400, "invalid_json", `Request body must not repeat a member name ("email")`},
		{"duplicate after nesting", `{"email":"a","client":{"name":"x","n":[1,{"m":2}]},"email":"b"}`, "", 400, "invalid_json", `Request body must not repeat a member name ("email")`},
		{"duplicate nested", `{"client":{"name":"x","name":"y"}}`, "", 400, "invalid_json", `Request body must not repeat a member name ("name")`},
		{"duplicate in array", `{"client":[{"a":1},{"b":[],"b":2}]}`, "", 400, "invalid_json", `Request body must not repeat a member name ("b")`},
		{"duplicate escaped", `{"email":"a","\u0065mail":"b"}`, "", 400, "invalid_json", `Request body must not repeat a member name ("email")`},
	}
}

func TestDecodeBadBody(t *testing.T) {
	t.Parallel()
	for _, tc := range badBodies() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var in loginInput
			var ok bool
			a := record(t, func(w http.ResponseWriter) { ok = httpapi.Decode(w, request(tc.body, tc.ct, 100), &in) })
			if ok {
				t.Fatal("Decode accepted the body")
			}
			a.wantError(t, tc.status, tc.code, tc.msg)
		})
	}
}

func TestDecodeObjectBadBody(t *testing.T) {
	t.Parallel()
	for _, tc := range badBodies() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var obj map[string]json.RawMessage
			var ok bool
			a := record(t, func(w http.ResponseWriter) { obj, ok = httpapi.DecodeObject(w, request(tc.body, tc.ct, 100)) })
			if ok || obj != nil {
				t.Fatalf("DecodeObject accepted the body: %v", obj)
			}
			a.wantError(t, tc.status, tc.code, tc.msg)
		})
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	yes := true
	for _, tc := range []struct {
		name, body, ct string
		want           loginInput
	}{
		{"all members", `{"email":"a@example.com","client":{"name":"app"},"password":"pw","remember":true,"deviceId":"d1","Plain":"p"}`,
			"application/json", loginInput{Email: "a@example.com", Client: &Client{Name: "app"}, Password: "pw", Remember: &yes,
				Device: Device{DeviceID: "d1"}, Plain: "p"}},
		{"no content type", `{"email":"a"}`, "", loginInput{Email: "a"}},
		{"charset", `{"email":"a"}`, "application/json; charset=utf-8", loginInput{Email: "a"}},
		{"upper-case media type", `{"email":"a"}`, "Application/JSON", loginInput{Email: "a"}},
		{"empty object", `{}`, "application/json", loginInput{}},
		{"nulls", `{"email":null,"remember":null}`, "application/json", loginInput{}},
		{"white space around", " \n{\"email\":\"a\"}\n ", "application/json", loginInput{Email: "a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var in loginInput
			var ok bool
			a := record(t, func(w http.ResponseWriter) { ok = httpapi.Decode(w, request(tc.body, tc.ct, 1<<10), &in) })
			if !ok || a.body != "" {
				t.Fatalf("refused: %d %s", a.status, a.body)
			}
			if !reflect.DeepEqual(in, tc.want) {
				t.Errorf("decoded %+v, want %+v", in, tc.want)
			}
		})
	}
}

func TestDecodeRefusesMembers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body string
		status     int
		code       string
		fields     map[string]any // the validation answer's errors
	}{
		{"every unknown member at once", `{"email":"a","isAdmin":true,"role":"admin","extra":{}}`, 400, "validation_failed",
			map[string]any{"isAdmin": "not_allowed", "role": "not_allowed", "extra": "not_allowed"}},
		{"case folded name", `{"EMAIL":"a"}`, 400, "validation_failed", map[string]any{"EMAIL": "not_allowed"}},
		{"dash-tagged field", `{"Internal":"x"}`, 400, "validation_failed", map[string]any{"Internal": "not_allowed"}},
		{"unexported field", `{"secret":"x"}`, 400, "validation_failed", map[string]any{"secret": "not_allowed"}},
		{"embedded struct by its type name", `{"Device":{"deviceId":"d"}}`, 400, "validation_failed", map[string]any{"Device": "not_allowed"}},
		{"unknown and wrong type", `{"email":1,"code":[]}`, 400, "validation_failed", map[string]any{"code": "not_allowed"}},
		{"wrong type", `{"email":1}`, 400, "invalid_json", nil},
		{"wrong nested type", `{"deviceId":{"a":1}}`, 400, "invalid_json", nil},
		{"unknown nested member", `{"client":{"name":"x","secret":"y"}}`, 400, "invalid_json", nil},
		// encoding/json would read these as U+FFFD, another text than sent.
		{"invalid UTF-8", "{\"email\":\"a\xffb\",\"client\":{\"name\":\"\xc3\"},\"password\":\"ok\"}", 400, "validation_failed",
			map[string]any{"email": "invalid", "client": "invalid"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var in loginInput
			var ok bool
			a := record(t, func(w http.ResponseWriter) { ok = httpapi.Decode(w, request(tc.body, "application/json", 1<<10), &in) })
			if ok {
				t.Fatal("Decode accepted the body")
			}
			a.wantError(t, tc.status, tc.code, "")
			if tc.fields != nil {
				if !reflect.DeepEqual(a.json["errors"], tc.fields) {
					t.Errorf("errors = %v, want %v", a.json["errors"], tc.fields)
				}
				if msgs, _ := a.json["message"].([]any); len(msgs) != len(tc.fields) {
					t.Errorf("message = %v", a.json["message"])
				}
				// Unknown members are refused before anything is decoded.
				if !reflect.DeepEqual(in, loginInput{}) {
					t.Errorf("a refused body was still decoded: %+v", in)
				}
			}
		})
	}
}

// A name may repeat across objects, just not within one.
func TestDecodeSameNameInSiblings(t *testing.T) {
	t.Parallel()
	var obj map[string]json.RawMessage
	var ok bool
	body := `{"a":{"x":1,"y":{"x":2}},"b":[{"x":3},{"x":4}],"x":5}`
	record(t, func(w http.ResponseWriter) { obj, ok = httpapi.DecodeObject(w, request(body, "", 1000)) })
	if !ok || len(obj) != 3 {
		t.Fatalf("DecodeObject refused %s: %v", body, obj)
	}
}

func TestDecodeObject(t *testing.T) {
	t.Parallel()
	var obj map[string]json.RawMessage
	var ok bool
	a := record(t, func(w http.ResponseWriter) {
		obj, ok = httpapi.DecodeObject(w, request(`{"amount":1.5,"metadata":[1],"extra":null}`, "application/json", 1<<10))
	})
	if !ok || a.body != "" {
		t.Fatalf("refused: %d %s", a.status, a.body)
	}
	want := map[string]json.RawMessage{"amount": json.RawMessage("1.5"), "metadata": json.RawMessage("[1]"), "extra": json.RawMessage("null")}
	if !reflect.DeepEqual(obj, want) {
		t.Errorf("members = %v, want %v", obj, want)
	}
}

// A dropped connection is the client's failure, never a 5xx.
func TestDecodeReadError(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest(http.MethodPost, "/", io.MultiReader(strings.NewReader(`{"email":`), failingReader{}))
	var in loginInput
	a := record(t, func(w http.ResponseWriter) {
		if httpapi.Decode(w, r, &in) {
			t.Error("Decode accepted a body it could not read")
		}
	})
	a.wantError(t, http.StatusBadRequest, "invalid_json", "")
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func TestDecodeNeedsStructPointer(t *testing.T) {
	t.Parallel()
	for _, dst := range []any{nil, loginInput{}, new(map[string]any), new(string)} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Decode(%T) did not panic", dst)
				}
			}()
			httpapi.Decode(httptest.NewRecorder(), request(`{}`, "", 10), dst)
		}()
	}
}
