package admin

import (
	"strings"
	"testing"
)

func TestParseBackends(t *testing.T) {
	yamlFile := `
- id: chat
  name: Chat
  icon: "💬"
  url: https://chat-api.mana.how/
  serviceKey: k1
- id: todo
  url: http://todo:3018
`
	bs, err := ParseBackends([]byte(yamlFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 2 || bs[0].URL != "https://chat-api.mana.how" || bs[0].ServiceKey != "k1" || bs[1].Name != "todo" {
		t.Errorf("yaml: %+v", bs)
	}
	jsonFile := `{"backends":[{"id":"presi","name":"Presi","url":"http://presi:3008","serviceKey":"k"}]}`
	if bs, err = ParseBackends([]byte(jsonFile)); err != nil || len(bs) != 1 || bs[0].ID != "presi" {
		t.Errorf("json object: %+v %v", bs, err)
	}
	for name, bad := range map[string]string{
		"misspelt key":  `[{"id":"chat","url":"http://x","servicekey":"k"}]`,
		"duplicate id":  `[{"id":"chat","url":"http://x"},{"id":"chat","url":"http://y"}]`,
		"relative url":  `[{"id":"chat","url":"chat:3002"}]`,
		"upper-case id": `[{"id":"Chat","url":"http://x"}]`,
		"not a list":    `"chat"`,
	} {
		if _, err := ParseBackends([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestLegacyBackends(t *testing.T) {
	env := map[string]string{"CHAT_BACKEND_URL": "http://chat:3002", "PRESI_BACKEND_URL": "http://presi:3008/"}
	bs, err := LegacyBackends(func(k string) string { return env[k] }, "key")
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 2 || bs[0].ID != "chat" || bs[0].Icon != "💬" || bs[1].URL != "http://presi:3008" || bs[1].ServiceKey != "key" {
		t.Errorf("%+v", bs)
	}
	if bs, _ := LegacyBackends(func(string) string { return "" }, "key"); bs != nil {
		t.Errorf("no variables: %+v", bs)
	}
	env["TODO_BACKEND_URL"] = "not a url"
	if _, err := LegacyBackends(func(k string) string { return env[k] }, "key"); err == nil || !strings.Contains(err.Error(), "todo") {
		t.Errorf("bad URL: %v", err)
	}
	s, _ := New(Config{Backends: bs}, Deps{})
	if !s.Configured() {
		t.Error("backends with a key: not configured")
	}
	bs[0].ServiceKey, bs[1].ServiceKey = "", ""
	if s, _ := New(Config{Backends: bs}, Deps{}); s.Configured() {
		t.Error("no service key: configured")
	}
}
